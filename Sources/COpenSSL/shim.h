#ifndef MODBRIDGE_COPENSSL_SHIM_H
#define MODBRIDGE_COPENSSL_SHIM_H

// OpenSSL for the broker's TLS listeners and password hashing (later issues).
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#endif
