// On kalshi.com: read the event or market ticker from the URL path (never from the page's markup, which changes
// often), ask the extension's service worker for that event's markets, and show a small dismissible panel whose
// buttons add legs to the parlay slip. Pages whose tickers the quote API does not know get nothing.
// This script never sees the API key: it can only ask the service worker for markets and add legs.
(() => {
  "use strict";

  const TICKERISH = /^[a-z0-9]+(?:-[a-z0-9.]+)+$/i; // KXNBAGAME-26MAR07GSWOKC, kxnbagame-26mar07gswokc-okc

  /** Path segments that look like Kalshi tickers (a dash and a digit), the most specific (last) first. */
  function tickerCandidates(pathname) {
    return pathname.split("/").map((s) => decodeURIComponent(s)).filter((s) => TICKERISH.test(s) && /\d/.test(s))
      .reverse().slice(0, 3).map((s) => s.toUpperCase());
  }

  const dismissed = new Set();
  let shownFor = null; // the path the panel (or the decision to show nothing) belongs to
  let host = null;
  let currentList = null;

  function removePanel() {
    host?.remove();
    host = null;
    currentList = null;
  }

  function button(label, testid, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.testid = testid;
    b.addEventListener("click", onClick);
    return b;
  }

  function render(page, legs) {
    removePanel();
    host = document.createElement("div");
    host.id = "parlay-slip-panel-host";
    const root = host.attachShadow({mode: "open"});
    const style = document.createElement("style");
    style.textContent = `
      :host { all: initial; }
      .panel { position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; width: 320px; max-height: 60vh;
               overflow: auto; background: #fff; color: #111; border: 1px solid #cfd6df; border-radius: 10px;
               box-shadow: 0 6px 24px rgba(0,0,0,.18); font: 13px/1.35 system-ui, sans-serif; }
      header { display: flex; align-items: center; gap: 8px; padding: 8px 10px; background: #0b3d2e; color: #fff;
               border-radius: 10px 10px 0 0; position: sticky; top: 0; }
      header strong { flex: 1; font-size: 13px; }
      header button { background: none; border: 0; color: #fff; font-size: 16px; cursor: pointer; }
      ul { list-style: none; margin: 0; padding: 4px 10px; }
      li { display: flex; align-items: center; gap: 6px; padding: 6px 0; border-bottom: 1px solid #eef1f4; }
      li:last-child { border-bottom: 0; }
      li.here { background: #f2fbf6; }
      .what { flex: 1; min-width: 0; }
      .title { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
      .sub { color: #5b6570; font-size: 11px; }
      li button { border: 1px solid #9aa5b1; background: #fff; border-radius: 6px; padding: 3px 8px; cursor: pointer;
                  font-weight: 600; }
      li button.yes { color: #0a7a45; border-color: #0a7a45; }
      li button.no { color: #b3261e; border-color: #b3261e; }
      li button:disabled { opacity: .4; cursor: default; }
      .note { margin: 0; padding: 6px 10px 10px; color: #5b6570; font-size: 12px; }
      .note.error { color: #b3261e; }`;
    const panel = document.createElement("div");
    panel.className = "panel";
    panel.dataset.testid = "parlay-panel";
    const header = document.createElement("header");
    const title = document.createElement("strong");
    title.textContent = `Parlay slip · ${page.event_ticker ?? page.market_ticker}`;
    const close = button("×", "parlay-dismiss", () => {
      dismissed.add(location.pathname);
      removePanel();
    });
    close.title = "Hide for this page";
    header.append(title, close);
    const list = document.createElement("ul");
    const note = document.createElement("p");
    note.className = "note";
    note.dataset.testid = "parlay-note";
    note.textContent = "Add legs here, then open the Parlay slip popup to quote and bet.";
    for (const m of page.markets) {
      const li = document.createElement("li");
      li.dataset.testid = "parlay-market";
      li.dataset.ticker = m.ticker;
      if (m.ticker === page.market_ticker) li.classList.add("here");
      const what = document.createElement("div");
      what.className = "what";
      const t = document.createElement("div");
      t.className = "title";
      t.textContent = m.yes_sub_title || m.title || m.ticker;
      const sub = document.createElement("div");
      sub.className = "sub";
      sub.textContent = [typeof m.mid === "number" ? `${Math.round(m.mid * 100)}¢` : null, m.ticker]
        .filter(Boolean).join(" · ");
      what.append(t, sub);
      li.append(what);
      for (const side of ["yes", "no"]) {
        const b = button(side.toUpperCase(), `parlay-add-${side}`, async () => {
          const r = await chrome.runtime.sendMessage({type: "addLeg", leg: {...m, side}});
          note.classList.toggle("error", !r?.ok);
          note.textContent = r?.ok ? `Added ${side.toUpperCase()} ${m.yes_sub_title || m.ticker}: ${r.legs.length} ` +
            `leg${r.legs.length === 1 ? "" : "s"} in the slip. Open the popup to quote.`
            : (r?.error?.message ?? "The extension did not answer.");
          if (r?.legs) mark(list, r.legs);
        });
        b.className = side;
        li.append(b);
      }
      list.append(li);
    }
    mark(list, legs);
    panel.append(header, list, note);
    root.append(style, panel);
    document.documentElement.append(host);
    currentList = list;
  }

  /** Grey out the buttons of legs already in the slip (and the other side of their markets). */
  function mark(list, legs) {
    const side = new Map(legs.map((l) => [l.ticker, l.side]));
    for (const li of list.children) {
      const taken = side.get(li.dataset.ticker);
      for (const b of li.querySelectorAll("button")) {
        b.disabled = taken !== undefined;
        b.title = taken === undefined ? `Add ${b.textContent} to the slip`
          : taken === b.textContent.toLowerCase() ? "Already in the slip" : "The other side is in the slip";
      }
    }
  }

  async function update() {
    const path = location.pathname;
    if (path === shownFor) return;
    shownFor = path;
    removePanel();
    if (dismissed.has(path)) return;
    const candidates = tickerCandidates(path);
    if (candidates.length === 0) return;
    let page;
    let legs;
    try {
      [page, legs] = await Promise.all([chrome.runtime.sendMessage({type: "pageMarkets", candidates}),
                                        chrome.runtime.sendMessage({type: "slipLegs"})]);
    } catch {
      return; // the extension was reloaded or removed: this page keeps working as it is
    }
    if (path !== location.pathname || !page?.ok || page.markets.length === 0) return; // unknown here: do nothing
    render(page, legs?.ok ? legs.legs : []);
  }

  /** The slip may have changed in the popup: refresh the buttons when the page comes back into view. */
  async function refreshMarks() {
    if (!currentList) return;
    const list = currentList;
    try {
      const r = await chrome.runtime.sendMessage({type: "slipLegs"});
      if (r?.ok && list === currentList) mark(list, r.legs);
    } catch {
      // the extension is gone
    }
  }

  update();
  window.addEventListener("focus", refreshMarks);
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && refreshMarks());
  // Kalshi navigates without reloading the page: follow the URL.
  window.navigation?.addEventListener("navigatesuccess", () => update());
  setInterval(update, 1500);
})();
