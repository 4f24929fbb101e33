// The signed-in session and the one way the console calls the lineage service's API. Every
// failure becomes an ApiError, so a page says what went wrong in words: a refused token signs
// out with the reason, and a service that does not answer says so without losing the token.

const TOKEN = "skewless.token";
export const SERVICE_DOWN = "The lineage service does not answer; retry in a moment.";

/** The principal the token names (null until checked) and why the last session ended. */
export const session = { me: null, notice: null };

export class ApiError extends Error {
  /** ``status`` 0: no HTTP answer at all (the service or the network is down). */
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export const storedToken = () => sessionStorage.getItem(TOKEN);
export const isAuditor = () => ["auditor", "admin"].includes(session.me?.role);

export function signIn(token, me) {
  sessionStorage.setItem(TOKEN, token);
  session.me = me;
  session.notice = null;
}

/** Forget the token; ``notice`` tells the sign-in page why the session ended. */
export function signOut(notice = null) {
  sessionStorage.removeItem(TOKEN);
  session.me = null;
  session.notice = notice;
  location.hash = "#/signin";
}

/** GET an API path with the signed-in token; JSON back, or an ApiError with the detail. */
export async function api(path, params = {}, token = storedToken()) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") query.set(k, v);
  }
  const url = query.size ? `${path}?${query}` : path;
  let response;
  try {
    response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    throw new ApiError(0, SERVICE_DOWN); // fetch rejects only when no answer came back
  }
  const body = await response.json().catch(() => ({}));
  const detail = body.detail || response.statusText;
  if (response.status === 401 && token === storedToken()) {
    signOut(`Your token was refused: ${detail}. Sign in again.`);
  }
  if (!response.ok) throw new ApiError(response.status, detail);
  return body;
}

/** The answer as ``{found}``, or ``{invalid}`` with the ApiError when the service found the
 * request invalid (422): the page then keeps its controls beside the error, to correct them. */
export async function apiOrInvalid(path, params) {
  try {
    return { found: await api(path, params) };
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) return { invalid: err };
    throw err;
  }
}

/** What went wrong, in a sentence for the page. */
export function describe(err) {
  if (err instanceof ApiError) return err.status ? `${err.status}: ${err.message}` : err.message;
  return String(err);
}
