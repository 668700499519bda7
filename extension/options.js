// Settings: the API base URL and key, kept in chrome.storage.local (extension pages and the service worker only).
// Saving an API on another origin than the default asks Chrome for access to it (optional_host_permissions).

const DEFAULT_API_URL = "http://127.0.0.1:8000";
const $ = (id) => document.getElementById(id);
const urlInput = $("api-url");
const keyInput = $("api-key");
const status = $("connection-status");
const MARK = {ok: "✓", warn: "⚠", error: "✗", info: "•"};

function normalize(url) {
  return String(url ?? "").trim().replace(/\/+$/, "") || DEFAULT_API_URL;
}

function show(state, lines) {
  status.dataset.state = state;
  status.replaceChildren(...lines.map(({level, text}) => {
    const p = document.createElement("p");
    p.className = `line ${level}`;
    p.textContent = `${MARK[level] ?? ""} ${text}`;
    return p;
  }));
}

function parseUrl(text) {
  try {
    const u = new URL(text);
    return ["http:", "https:"].includes(u.protocol) ? u : null;
  } catch {
    return null;
  }
}

async function load() {
  const {apiUrl, apiKey} = await chrome.storage.local.get(["apiUrl", "apiKey"]);
  urlInput.value = apiUrl || DEFAULT_API_URL;
  keyInput.value = apiKey || "";
}

$("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  const apiUrl = normalize(urlInput.value);
  const apiKey = keyInput.value.trim();
  const url = parseUrl(apiUrl);
  if (url === null) {
    show("error", [{level: "error", text: `"${apiUrl}" is not an http(s) URL such as ${DEFAULT_API_URL}. Not saved.`}]);
    return;
  }
  const {apiUrl: before} = await chrome.storage.local.get("apiUrl");
  await chrome.storage.local.set({apiUrl, apiKey});
  urlInput.value = apiUrl;
  const saved = {level: "ok", text: `Saved: ${apiUrl}${apiKey ? " with an API key" : " (no API key yet)"}.`};
  const old = parseUrl(before || "");
  if (old && old.origin !== url.origin && old.origin !== new URL(DEFAULT_API_URL).origin) {
    await chrome.permissions.remove({origins: [`${old.origin}/*`]}).catch(() => {}); // no longer needed
  }
  const origins = [`${url.origin}/*`];
  if (await chrome.permissions.contains({origins})) {
    show("ok", [saved]);
    return;
  }
  // still within the click's user activation: Chrome shows its prompt
  show("pending", [saved, {level: "info", text: `Chrome asks you to allow access to ${url.origin}…`}]);
  let granted;
  try {
    granted = await chrome.permissions.request({origins});
  } catch (e) {
    granted = false;
    console.warn("permissions.request:", e?.message ?? e);
  }
  if (granted) {
    show("ok", [saved, {level: "ok", text: `Access to ${url.origin} granted.`}]);
    return;
  }
  const self = chrome.runtime.getURL("").replace(/\/$/, "");
  show("warn", [saved, {level: "warn", text: `Chrome did not grant access to ${url.origin}. The extension reaches ` +
    `it only if the API allows this extension: start it with PARLAY_SERVICE_CORS_ORIGINS=${self}.`}]);
});

$("test-connection").addEventListener("click", async () => {
  const button = $("test-connection");
  button.disabled = true;
  show("pending", [{level: "info", text: "Testing the connection…"}]);
  try {
    const r = await chrome.runtime.sendMessage({type: "testConnection", apiUrl: normalize(urlInput.value),
                                                apiKey: keyInput.value.trim()});
    if (r?.ok) show(r.state, r.lines);
    else show("error", [{level: "error", text: r?.error?.message ?? "The extension did not answer."}]);
  } finally {
    button.disabled = false;
  }
});

load();
