/// The console's style sheet: one column on a phone, cards side by side on a wider screen.
enum ConsoleStyle {
    static let css = #"""
    * { box-sizing: border-box; }
    body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #f3f4f6; color: #111827; }
    header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .6rem 1rem;
             background: #1f2937; color: #f9fafb; }
    header h1 { font-size: 1.1rem; margin: 0; }
    header nav { display: flex; gap: .3rem; }
    header form { margin-left: auto; }
    button { font: inherit; padding: .4rem .8rem; border-radius: 4px; border: 1px solid #9ca3af; background: #fff;
             color: #111827; cursor: pointer; }
    button.primary { background: #1d4ed8; border-color: #1d4ed8; color: #fff; }
    button:disabled { opacity: .5; cursor: default; }
    .tab[aria-pressed="true"] { background: #1d4ed8; border-color: #1d4ed8; color: #fff; }
    .entity { color: #d1d5db; }
    .connection { padding: .1rem .5rem; border-radius: 999px; font-size: .85rem; background: #6b7280; }
    .connection[data-state="connected"] { background: #15803d; }
    .connection[data-state="disconnected"] { background: #b91c1c; }
    main { padding: .5rem 1rem 2rem; max-width: 90rem; margin: 0 auto; }
    h2 { font-size: 1.05rem; margin: 1.2rem 0 .5rem; }
    .muted { color: #6b7280; }
    .notice { background: #fef3c7; padding: .5rem; border-radius: 4px; }
    .devices, .buses { display: grid; gap: .8rem; grid-template-columns: repeat(auto-fill, minmax(26rem, 1fr)); }
    .card { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0, 0, 0, .1); padding: .8rem; min-width: 0; overflow-x: auto; }
    .card h3 { font-size: 1rem; margin: 0 0 .3rem; display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
    .badge { font-size: .8rem; padding: .05rem .45rem; border-radius: 999px; background: #9ca3af; color: #fff; font-weight: normal; }
    .badge[data-online="true"] { background: #15803d; }
    .badge[data-online="false"] { background: #b91c1c; }
    .meta { color: #6b7280; font-size: .85rem; margin: 0 0 .4rem; }
    .error { color: #b91c1c; font-size: .9rem; margin: .2rem 0; }
    table { width: 100%; border-collapse: collapse; }
    td, th { text-align: left; padding: .25rem .3rem; border-top: 1px solid #e5e7eb; vertical-align: middle; }
    th { font-weight: 600; color: #374151; }
    td.value { font-variant-numeric: tabular-nums; white-space: nowrap; }
    td.value.stale { color: #6b7280; font-style: italic; }
    td.value.failed { color: #b91c1c; }
    td.value.changed { background: #dbeafe; }
    .write { display: flex; gap: .3rem; }
    .write input, .write select { width: 5.5rem; padding: .3rem; font: inherit; border: 1px solid #9ca3af; border-radius: 4px; }
    .ack { font-size: .9rem; margin: .4rem 0 0; padding: .3rem .5rem; border-radius: 4px; background: #f3f4f6; }
    .ack[data-ack="ok"] { background: #dcfce7; }
    .ack[data-ack="failed"] { background: #fee2e2; }
    dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .8rem; margin: 0; }
    dt { color: #374151; }
    dd { margin: 0; font-variant-numeric: tabular-nums; }
    pre { background: #fff; padding: .8rem; border-radius: 8px; overflow: auto; font-size: .85rem; }
    .confirm { position: fixed; inset: 0; background: rgba(17, 24, 39, .5); display: flex; align-items: center; justify-content: center; }
    .confirm[hidden] { display: none; }
    .confirm-box { background: #fff; padding: 1rem; border-radius: 8px; max-width: 26rem; margin: 1rem; }
    .confirm-box p { margin-top: 0; font-size: 1.05rem; }
    @media (max-width: 40rem) {
      .devices, .buses { grid-template-columns: minmax(0, 1fr); }
      main { padding: .4rem .5rem 2rem; }
      header form { margin-left: 0; }
      .point-description { display: none; }
      /* A point's row as two lines: name and value, then its write control across the card,
         so nothing needs scrolling sideways on a phone. */
      .device table, .device thead, .device tbody { display: block; }
      .device tr { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); border-top: 1px solid #e5e7eb; }
      .device td, .device th { border-top: 0; }
      .device th.set, .device td.set.none { display: none; }
      .device td.set { grid-column: 1 / -1; padding-top: 0; }
      .device td.value { white-space: normal; overflow-wrap: anywhere; }
      .write input, .write select { flex: 1; width: auto; min-width: 0; }
    }

    """#
}
