#ifndef MODBRIDGE_COPENSSL_SHIM_H
#define MODBRIDGE_COPENSSL_SHIM_H

// OpenSSL for the TLS module (Sources/TLS/OpenSSL.swift is the one Swift file that calls it).
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

// Function-like macros Swift cannot import, as inline functions.

static inline int modbridge_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}

static inline int modbridge_SSL_CTX_set_max_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_max_proto_version(context, version);
}

/// Adds one certificate of the chain sent after the leaf; the context takes its own reference.
static inline int modbridge_SSL_CTX_add1_chain_cert(SSL_CTX *context, X509 *certificate) {
    return (int)SSL_CTX_add1_chain_cert(context, certificate);
}

static inline int modbridge_SSL_set_tlsext_host_name(SSL *connection, const char *name) {
    return (int)SSL_set_tlsext_host_name(connection, name);
}

/// A memory BIO that is empty answers "retry" (-1) rather than end of file (0), so that
/// OpenSSL reports SSL_ERROR_WANT_READ while the caller has not fed the next bytes yet.
static inline void modbridge_BIO_set_mem_eof_return(BIO *bio, int value) {
    (void)BIO_set_mem_eof_return(bio, value);
}

static inline void modbridge_OPENSSL_free(void *pointer) {
    OPENSSL_free(pointer);
}

/// Options every context gets: no TLS compression (CRIME), no renegotiation; a server picks the
/// cipher from its own preference order. SSL_OP_* are built by a macro Swift cannot import.
static inline void modbridge_SSL_CTX_set_hardening_options(SSL_CTX *context, int isServer) {
    uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
    if (isServer) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(context, options);
}

/// Frees a connection's read and write buffers while it is idle: a broker holds many idle
/// connections, and each would otherwise keep about 34 KiB of buffers.
static inline void modbridge_SSL_CTX_release_idle_buffers(SSL_CTX *context) {
    (void)SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
}

/// Prints a distinguished name as RFC 2253 ("CN=client-1,O=Plant"); the flag is a composed macro.
static inline int modbridge_X509_NAME_print_rfc2253(BIO *bio, const X509_NAME *name) {
    return X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
}

#endif
