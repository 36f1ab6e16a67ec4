// api.js — the server's HTTP API as the page calls it, with the access token.

// The access token, when the server requires one (`--auth-token`): taken once from
// the page's `?token=` (then dropped from the address bar) or asked for, and kept for
// this tab only. It goes as a bearer header on API calls and as `?token=` on the
// stream, which cannot carry headers.
const TOKEN_KEY = 'chainboard.token';

export function accessToken() {
  const query = new URLSearchParams(location.search);
  const given = query.get('token');
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    query.delete('token');
    const rest = query.toString();
    history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
  }
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function askForToken() {
  const entered = prompt('This chainboard requires an access token:');
  if (entered) sessionStorage.setItem(TOKEN_KEY, entered.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** `fetch(path)` with the access token as a bearer header, when there is one. */
export function apiFetch(path) {
  const token = accessToken();
  return fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
}

/** The session's GEX history of `symbol` for expiry `filter` (its JSON document). */
export async function fetchHistory(symbol, filter) {
  const response = await apiFetch(`/api/v1/gex/${encodeURIComponent(symbol)}/history?filter=${filter}`);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}
