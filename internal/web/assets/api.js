// The API client: every request carries the tab's bearer token, if any.
// The token lives in this tab's sessionStorage only (never a cookie, never
// localStorage), so it is gone when the tab closes.

const KEY = 'bss-api-token';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY) || '',
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

let onUnauthorized = () => {};

// setUnauthorizedHandler sets what happens when the server answers 401 to
// a request that carried the token: the token is no longer good.
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// api performs a request and returns its JSON body. A non-2xx answer
// throws ApiError with the server's message, except the statuses listed
// in accept, whose body is returned.
export async function api(method, path, body, accept = []) {
  const headers = {Accept: 'application/json'};
  const t = token.get();
  if (t) headers.Authorization = 'Bearer ' + t;
  const init = {method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'cannot reach the server: ' + e.message);
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.ok || accept.includes(res.status)) return data;
  if (res.status === 401 && t) onUnauthorized();
  const msg = (data && data.error) || res.status + ' ' + res.statusText;
  throw new ApiError(res.status, msg);
}

export const get = (path, accept) => api('GET', path, undefined, accept);
