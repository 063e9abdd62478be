// The meeting page as a Matrix widget (Element, Tchap): just enough of the widget API
// (postMessage; MSC1960 for OpenID, MSC2762's request/response shape) to get an OpenID token
// from the Matrix client, which the hub turns into an identity token for this one meeting.
// Inside the client's iframe the hub's cookie is neither sent nor stored (a third-party
// context), so that token, handed to the socket on join, is the page's only proof of who it is.

const API_VERSIONS = ["0.0.1", "0.0.2"];
const REQUEST_TIMEOUT_MS = 10000;
// How long the person may take to allow or refuse "verify your identity" in their client;
// after that the page offers to ask again rather than wait forever.
const DECISION_TIMEOUT_MS = 120000;
// The client asks for our capabilities once our iframe has loaded; if it never does, the
// OpenID request goes anyway after this long.
const CAPABILITIES_WAIT_MS = 3000;
// A new identity token is fetched this long before the hub's one runs out.
const REFRESH_MARGIN_MS = 60000;

/** The person, or their Matrix client, declined to confirm who they are. */
export class IdentityBlocked extends Error {}

/**
 * Where this widget's messages go, or null when the page is not inside a frame (then it is an
 * ordinary meeting page). `parentOrigin` is null when Element's `parentUrl` names no origin
 * the hub lists (settings.parentOrigins): nothing is then sent to, or accepted from, anyone.
 */
export function widgetContext(settings, location = window.location) {
  if (!settings || window.parent === window) return null;
  const query = new URLSearchParams(location.search);
  let parentOrigin = null;
  try {
    parentOrigin = new URL(query.get("parentUrl") || "").origin;
  } catch {
    parentOrigin = null;
  }
  if (!settings.parentOrigins.includes(parentOrigin)) parentOrigin = null;
  // A URL template variable the client did not fill stays "$name": not a name.
  const displayName = query.get("displayName");
  return {
    widgetId: query.get("widgetId") || null,
    parentOrigin,
    displayName: displayName && !displayName.startsWith("$") ? displayName : null,
  };
}

const delay = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

/** The widget side of the postMessage channel with the Matrix client that embeds the page. */
export class MatrixWidget {
  constructor({ widgetId, parentOrigin }) {
    this.widgetId = widgetId;
    this.parentOrigin = parentOrigin;
    this.pending = new Map(); // our requestId -> {resolve, reject, timer}
    this.credentialWaiters = new Map(); // get_openid requestId -> resolve (state "request")
    this.count = 0;
    this.capabilitiesAsked = new Promise((resolve) => {
      this.capabilitiesDone = resolve;
    });
  }

  start() {
    if (!this.parentOrigin) return;
    window.addEventListener("message", (event) => this.receive(event));
    // A client told `waitForIframeLoad: false` waits for this before asking our capabilities;
    // the others answer it with an error, which changes nothing.
    if (this.widgetId) this.request("content_loaded", {}).catch(() => {});
  }

  receive(event) {
    if (event.source !== window.parent || event.origin !== this.parentOrigin) return;
    const message = event.data;
    if (!message || typeof message !== "object") return;
    if (typeof message.action !== "string" || typeof message.requestId !== "string") return;
    const isRequest = !("response" in message);
    // Without widgetId in our URL, the client's first request tells it (as the reference
    // implementation does).
    if (this.widgetId === null && isRequest && message.api === "toWidget") this.widgetId = message.widgetId;
    if (message.widgetId !== this.widgetId) return;
    if (isRequest && message.api === "toWidget") this.reply(message, this.responseTo(message));
    else if (!isRequest && message.api === "fromWidget") this.settle(message);
  }

  /** Our answer to one of the client's requests; an error for what a meeting does not use. */
  responseTo(request) {
    switch (request.action) {
      case "capabilities":
        this.capabilitiesDone();
        return { capabilities: [] }; // nothing to read or send in the room
      case "notify_capabilities":
      case "visibility":
        return {};
      case "supported_api_versions":
        return { supported_versions: API_VERSIONS };
      case "openid_credentials":
        this.credentialsArrived(request.data || {});
        return {};
      default:
        return { error: { message: `Unknown or unsupported action: ${request.action}` } };
    }
  }

  reply(request, response) {
    window.parent.postMessage({ ...request, response }, this.parentOrigin);
  }

  /** Send a fromWidget request; resolves with the client's whole answer. */
  request(action, data) {
    this.count += 1;
    const requestId = `visio-${Date.now()}-${this.count}`;
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`the Matrix client did not answer ${action}`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(requestId, { resolve, reject, timer });
      const message = { api: "fromWidget", widgetId: this.widgetId, requestId, action, data };
      window.parent.postMessage(message, this.parentOrigin);
    });
  }

  settle(answer) {
    const waiting = this.pending.get(answer.requestId);
    if (!waiting) return;
    this.pending.delete(answer.requestId);
    window.clearTimeout(waiting.timer);
    const response = answer.response || {};
    if (response.error) waiting.reject(new Error(`${answer.action}: ${response.error.message}`));
    else waiting.resolve(answer);
  }

  credentialsArrived(data) {
    const resolve = this.credentialWaiters.get(data.original_request_id);
    if (!resolve) return;
    this.credentialWaiters.delete(data.original_request_id);
    resolve(data);
  }

  /** {accessToken, serverName} from the client; IdentityBlocked if the person refused. */
  async openIdCredentials() {
    if (!this.parentOrigin) throw new Error("the embedding Matrix client is not one the hub lists");
    await Promise.race([this.capabilitiesAsked, delay(CAPABILITIES_WAIT_MS)]);
    if (!this.widgetId) throw new Error("the Matrix client gave no widget id");
    const answer = await this.request("get_openid", {});
    let result = answer.response;
    if (result.state === "request") {
      // The client asks the person first; its decision comes as `openid_credentials`.
      const decided = new Promise((resolve) => this.credentialWaiters.set(answer.requestId, resolve));
      result = await Promise.race([decided, delay(DECISION_TIMEOUT_MS).then(() => null)]);
      if (result === null) {
        this.credentialWaiters.delete(answer.requestId);
        throw new Error("the Matrix client gave no answer to the identity request");
      }
    }
    if (result.state === "blocked") throw new IdentityBlocked("the Matrix client blocked get_openid");
    if (result.state !== "allowed" || !result.access_token || !result.matrix_server_name) {
      throw new Error(`unexpected get_openid answer (${result.state})`);
    }
    return { accessToken: result.access_token, serverName: result.matrix_server_name };
  }
}

/** The hub's identity token for this meeting, from the Matrix client's OpenID token. */
export class WidgetIdentity {
  constructor(widget, { meetingId, identityPath }, displayName = null) {
    this.widget = widget;
    this.meetingId = meetingId;
    this.identityPath = identityPath;
    this.displayName = displayName;
    this.current = null; // {identity, display_name, token, expires_in}
    this.expiresAt = 0;
    this.running = null; // the verification under way, shared by whoever asks meanwhile
  }

  /** Who the hub says this is ({identity, display_name, token}), verifying again if needed. */
  async who() {
    if (this.current && Date.now() < this.expiresAt - REFRESH_MARGIN_MS) return this.current;
    if (!this.running) {
      this.running = this.verify().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  /** The token for the join message (the socket's only proof in a third-party iframe). */
  async token() {
    return (await this.who()).token;
  }

  async verify() {
    const credentials = await this.widget.openIdCredentials();
    const body = {
      meeting_id: this.meetingId,
      access_token: credentials.accessToken,
      matrix_server_name: credentials.serverName,
    };
    if (this.displayName) body.display_name = this.displayName;
    const answer = await fetch(this.identityPath, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
    });
    const result = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      const error = new Error(`the hub refused the Matrix identity (${answer.status})`);
      error.hubMessage = result.detail || "";
      // A partner ministry's homeserver: that ministry's hub is where this person joins.
      if (result.partner_url) error.partner = { url: result.partner_url, label: result.partner };
      throw error;
    }
    this.current = result;
    this.expiresAt = Date.now() + result.expires_in * 1000;
    return result;
  }
}
