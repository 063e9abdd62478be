// One person's presence in one meeting: the signaling socket, the two peer connections, the
// participant list, the lobby (waiting in it, or moderating it), and the policy that keeps them
// alive (ICE restart, then a full rejoin with exponential backoff). Views subscribe with
// `on(event, fn)`; nothing here touches the DOM.

import { Signaling } from "./signaling.js";
import { PublishConnection, SubscribeConnection } from "./media.js";

const WELCOME_TIMEOUT_MS = 10000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15000;
const RESTART_POLL_MS = 1000;
const RESTART_POLL_FOR_MS = 60000;
const GIVE_UP_AFTER_MS = 120000;
// If an ICE restart has not brought media back in this time, start again from a new socket.
const MEDIA_RECOVERY_MS = 10000;
// A `rate_limited` error without `retry_after` still makes the page hold back this long.
const RATE_LIMIT_DEFAULT_S = 5;
// Close codes after which the page never comes back by itself (docs/signaling.md).
const CLOSE_ENDED = 4001;
const CLOSE_DENIED = 4003;
const MODERATOR_ROLES = new Set(["owner", "moderator"]);

/** An error that says the hub asked us to wait `retryAfter` seconds before trying again. */
function rateLimitedError(seconds) {
  const error = new Error(`rate limited: retry in ${seconds} s`);
  error.retryAfter = seconds;
  return error;
}

export class Call {
  constructor({ settings, localMedia, token = null }) {
    this.settings = settings;
    this.local = localMedia;
    // Join token sent with every join: from the link's #token= fragment, or a function that
    // gives one (a widget's Matrix identity, fetched again once it expires).
    this.token = token;
    this.state = "idle";
    this.listeners = new Map();
    this.participants = new Map(); // id -> {id, name, audio, video, screen, hand, role, isSelf}
    this.remote = new Map(); // participant id -> {camera, screen, audio} MediaStreams
    // track -> MediaStream, so video elements are not reset. Keyed by the track itself, not
    // its id: the hub names tracks after participant and mid, so a fresh subscribe connection
    // (after a network drop) brings new tracks with the old ids, and the old tracks are dead.
    this.streamCache = new WeakMap();
    this.selfId = null;
    this.activeSpeaker = null;
    this.signaling = null;
    this.publish = null;
    this.subscribe = null;
    this.welcome = null; // {resolve, reject, timer} while a join waits for its welcome
    this.connecting = false;
    this.name = "";
    this.audio = true;
    this.video = true;
    this.hand = false;
    this.lastError = null;
    this.reconnect = null; // {started, attempt, timer} while reconnecting
    this.restartNoticeAt = 0; // when the hub last said it restarts (Date.now())
    this.troubled = new Set();
    this.viewTiles = null; // what the room view displays: [{participant, width, height}]
    this.welcoming = false;
    this.sentView = null; // the last `view` sent on this socket, as JSON
    // A hidden page needs nobody's video: the hub stops it, and resumes it when shown.
    document.addEventListener("visibilitychange", () => this.sendView());
    this.recoveryTimer = null;
    this.role = "participant"; // own role, from welcome and our own participant_updated
    this.locked = false;
    this.subtitles = "off"; // off, on, unavailable (hub/meetings/subtitles.py)
    this.subtitlesAllowed = false; // this hub offers them: moderators get the control
    this.lobby = []; // moderators only: [{id, name, kind, since, message}] waiting to be let in
    this.knockMessage = ""; // what we wrote for the moderators, should we wait
    this.refusal = null; // a moderator's reason, when one refused us
    // "none" (entered directly), "waiting", "admitted", or the final "denied" / "removed".
    this.lobbyState = "none";
    this.retryAfterUntil = 0; // Date.now() before which nothing is retried (rate_limited)
    localMedia.onTrack((kind, track) => this.localTrackChanged(kind, track));
  }

  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(listener);
  }

  emit(event, detail) {
    for (const listener of this.listeners.get(event) || []) listener(detail);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  // --- joining and staying joined ---------------------------------------------------------

  /** First join from the pre-join screen; rejects (state "failed") if it does not work. */
  async join({ name, audio, video, message = "" }) {
    this.name = name;
    this.knockMessage = message; // for the moderators, should we wait; sent again on reconnects
    this.audio = audio;
    this.video = video;
    this.lastError = null;
    const wait = this.retryWait();
    if (wait > 0) {
      this.setState("failed");
      throw rateLimitedError(Math.ceil(wait / 1000));
    }
    this.setState("connecting");
    try {
      await this.connect();
    } catch (error) {
      // The hub said it restarts or is being drained (`restarting`, then close 1012) before
      // letting us in: come back as after a restart, through the load balancer (to another
      // node), rather than fail the first join.
      if (this.restartNoticeAt && Date.now() - this.restartNoticeAt < RESTART_POLL_FOR_MS) {
        this.startReconnect();
        return;
      }
      this.teardown();
      this.setState("failed");
      error.hubMessage = this.lastError;
      const wait = this.retryWait();
      if (wait > 0) error.retryAfter = Math.ceil(wait / 1000);
      throw error;
    }
  }

  /** Milliseconds the hub asked us to hold back before trying again (0: go ahead). */
  retryWait() {
    return Math.max(0, this.retryAfterUntil - Date.now());
  }

  get isModerator() {
    return MODERATOR_ROLES.has(this.role);
  }

  /** Open a new socket, send `join`, and wait for `welcome` (which creates the connections). */
  async connect() {
    this.teardown();
    this.connecting = true;
    try {
      await this.openAndJoin();
    } finally {
      this.connecting = false;
    }
  }

  async openAndJoin() {
    const token = typeof this.token === "function" ? await this.token() : this.token;
    const signaling = new Signaling(this.settings.wsPath, {
      onMessage: (message) => {
        if (this.signaling === signaling) this.receive(message);
      },
      onClose: (info) => {
        if (this.signaling === signaling) this.socketClosed(info);
      },
    });
    this.signaling = signaling;
    await signaling.connect();
    const welcomed = new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => reject(new Error("no welcome from the hub")), WELCOME_TIMEOUT_MS);
      this.welcome = { resolve, reject, timer };
    });
    const join = { type: "join", name: this.name, audio: this.audio, video: this.video };
    if (token) join.token = token;
    const rejoin = this.rejoinTicket();
    if (rejoin) join.rejoin = rejoin;
    if (this.knockMessage) join.message = this.knockMessage;
    if (document.documentElement.lang) join.lang = document.documentElement.lang;
    signaling.send(join);
    try {
      await welcomed;
    } finally {
      if (this.welcome) window.clearTimeout(this.welcome.timer);
      this.welcome = null;
    }
  }

  socketClosed(info) {
    console.info("signaling closed", info);
    // Removed or refused (normally after `denied`), or the meeting ended: never come back.
    if (info.code === CLOSE_DENIED) return this.denied("denied");
    if (info.code === CLOSE_ENDED && !this.welcome) return this.ended("ended");
    if (this.welcome) {
      this.welcome.reject(new Error(this.lastError || `socket closed (${info.code})`));
      return; // join() or the reconnect loop decides what comes next
    }
    if (this.connecting) return; // refused before opening: connect() has already failed
    if (this.state === "ended" || this.state === "idle" || this.state === "failed") return;
    // 4000-4999 from the hub mean "do not come back" (refused, removed); anything else, such
    // as a restart or a network drop, is worth reconnecting.
    if (info.code >= 4000 && info.code < 5000 && !info.silent) {
      this.teardown();
      this.setState("disconnected");
      return;
    }
    this.startReconnect();
  }

  startReconnect() {
    if (this.reconnect) return;
    this.teardown();
    this.reconnect = { started: Date.now(), attempt: 0, timer: null };
    this.setState("reconnecting");
    this.scheduleAttempt();
  }

  scheduleAttempt() {
    const reconnect = this.reconnect;
    if (!reconnect) return;
    if (Date.now() - reconnect.started > GIVE_UP_AFTER_MS) {
      this.reconnect = null;
      this.setState("disconnected");
      return;
    }
    // Exponential backoff with jitter, so a hub restart is not met by everyone at once; never
    // sooner than a rate_limited error's retry_after.
    // After the hub said it restarts, it is back within seconds: try every second for a
    // while instead of backing off, so people are back in as soon as it is up.
    const restarting = this.restartNoticeAt && Date.now() - this.restartNoticeAt < RESTART_POLL_FOR_MS;
    const base = restarting
      ? RESTART_POLL_MS
      : Math.min(BACKOFF_FIRST_MS * 2 ** reconnect.attempt, BACKOFF_MAX_MS);
    const delay = Math.max(base * (0.75 + Math.random() * 0.5), this.retryWait());
    reconnect.attempt += 1;
    reconnect.timer = window.setTimeout(() => this.attemptReconnect(), delay);
  }

  async attemptReconnect() {
    if (!this.reconnect) return;
    if (!navigator.onLine) {
      // No network at all: wait for it rather than burn attempts.
      window.addEventListener("online", () => this.attemptReconnect(), { once: true });
      return;
    }
    try {
      await this.connect();
      if (!this.reconnect) return; // denied or ended while joining: nothing to resume
      this.reconnect = null;
      this.emit("notice", { key: "meeting.notice.reconnected" });
    } catch (error) {
      console.warn("reconnect attempt failed", error);
      if (this.reconnect) this.scheduleAttempt();
    }
  }

  /** Leave a state where the hub gave up on us: the visible "retry" of a lost connection. */
  retry() {
    if (this.state !== "disconnected") return;
    this.startReconnect();
  }

  /** Close the socket and both connections; keeps local media and the join settings. */
  teardown() {
    if (this.signaling) this.signaling.detach();
    this.signaling = null;
    if (this.publish) this.publish.close();
    if (this.subscribe) this.subscribe.close();
    this.publish = null;
    this.subscribe = null;
    this.troubled.clear();
    window.clearTimeout(this.recoveryTimer);
  }

  leave() {
    if (this.signaling) this.signaling.send({ type: "leave" });
    this.stopReconnecting();
    this.teardown();
    this.local.stopAll();
    this.setState("idle");
  }

  stopReconnecting() {
    if (this.reconnect) window.clearTimeout(this.reconnect.timer);
    this.reconnect = null;
  }

  /** While waiting: the message for the moderators, written or rewritten ("": none). Kept for
   *  a knock again after a lost connection. False when it could not be sent. */
  amendKnock(message) {
    if (this.state !== "waiting") return false;
    this.knockMessage = message;
    return this.send({ type: "knock", message });
  }

  send(message) {
    return this.signaling ? this.signaling.send(message) : false;
  }

  /** What the page displays (`view`, docs/signaling.md): each shown person's tile in device
   *  pixels. Sent when it changes; the hub forwards each person's video in the layer that
   *  fits, and none for people not shown or while the page is hidden. */
  setView(tiles) {
    this.viewTiles = tiles;
    this.sendView();
  }

  sendView() {
    // Only on a socket the hub welcomed: also while it says our media reconnects (the socket
    // is up, and what we show changes meanwhile), never while a welcome is being handled
    // (the tiles are still the old roster's). A dropped socket sends it with its welcome.
    const joined = this.state === "connected" || (this.state === "reconnecting" && !this.reconnect);
    if (!this.viewTiles || !joined || this.connecting || this.welcoming) return;
    const message = { type: "view", tiles: this.viewTiles, visible: document.visibilityState === "visible" };
    const text = JSON.stringify(message);
    if (text !== this.sentView && this.send(message)) this.sentView = text;
  }

  // --- messages from the hub --------------------------------------------------------------

  receive(message) {
    switch (message.type) {
      case "welcome": return this.welcomed(message);
      case "publish_answer": return this.publish && this.publish.handleAnswer(message.sdp);
      case "subscribe_offer": return this.subscribe && this.subscribe.handleOffer(message);
      case "participant_joined": return this.upsert(message.participant, true);
      case "participant_updated": return this.upsert(message.participant, false);
      case "participant_left": return this.removeParticipant(message.participant_id);
      case "chat": return this.emit("chat", message);
      case "reaction": return this.emit("reaction", message);
      case "active_speaker":
        this.activeSpeaker = message.participant_id ?? null;
        return this.emit("speaker", this.activeSpeaker);
      case "ended": return this.ended(message.reason, message.instance);
      case "error": return this.hubError(message);
      case "waiting": return this.waiting();
      case "admitted": return this.admitted();
      case "denied":
        this.refusal = typeof message.message === "string" && message.message ? message.message : null;
        return this.denied(message.reason === "removed" ? "removed" : "denied");
      case "lobby": return this.lobbyChanged(message.entries);
      case "meeting_state": return this.meetingState(message);
      case "subtitles_state": return this.subtitlesState(message);
      case "subtitle": return this.emit("subtitle", message);
      case "recording_state":
        return this.emit("recording", { on: message.recording, by: message.by || null, failed: message.failed === true });
      case "muted": return this.mutedBy(message);
      case "cascade": return this.cascadeState(message);
      case "media_state": return this.mediaState(message);
      case "encodings":
        return this.publish && this.publish.encodeOnly(message.mid, message.rids).catch(logError("publish"));
      case "reception":
        // What the hub forwards of each video this page shows: a layer, or paused when our
        // connection cannot carry it.
        this.reception = new Map(message.videos.map((v) => [`${v.participant_id}:${v.source}`, v.quality]));
        return this.emit("reception", this.reception);
      case "restarting": return this.hubRestarting();
      case "pong": return undefined;
      default:
        console.info("signaling: ignored message type", message.type);
        return undefined;
    }
  }

  /** The ticket of this meeting's last welcome in this tab: shown with the next join (a
   *  reload, a reconnection, a hub restart), it lets an admitted person back in directly. */
  rejoinTicket() {
    try {
      return window.sessionStorage.getItem(this.rejoinKey());
    } catch {
      return null; // storage refused (privacy settings): the lobby again, nothing worse
    }
  }

  keepRejoinTicket(ticket) {
    try {
      if (ticket) window.sessionStorage.setItem(this.rejoinKey(), ticket);
      else window.sessionStorage.removeItem(this.rejoinKey());
    } catch {
      // storage refused: nothing to keep
    }
  }

  rejoinKey() {
    return `visio-rejoin:${this.settings.wsPath}`;
  }

  welcomed(message) {
    this.welcoming = true;
    this.keepRejoinTicket(message.rejoin || null);
    this.selfId = message.participant_id;
    this.role = message.role || "participant";
    this.locked = Boolean(message.locked);
    this.subtitlesAllowed = message.subtitles_allowed === true;
    this.subtitlesState({ state: message.subtitles || "off", by: null, welcome: true });
    this.emit("recording", { on: message.recording === true, allowed: message.recording_allowed === true, welcome: true });
    this.lobby = [];
    if (this.lobbyState === "waiting") this.lobbyState = "admitted";
    this.participants.clear();
    this.remote.clear();
    for (const participant of message.participants || []) this.store(participant);
    const iceServers = message.ice_servers || [];
    const send = (msg) => this.send(msg);
    const trouble = (name) => () => this.iceTrouble(name);
    const recovered = (name) => () => this.iceRecovered(name);
    // The pill tells the truth at once; the restart waits for ICE to stay down (watchIce).
    const unsteady = () => {
      if (this.state === "connected") this.setState("reconnecting");
    };
    this.publish = new PublishConnection({
      iceServers, send,
      simulcast: message.simulcast === true,
      audioTrack: this.local.audioTrack,
      videoTrack: this.local.videoTrack,
      onTrouble: trouble("publish"),
      onRecovered: recovered("publish"),
      onUnsteady: unsteady,
    });
    this.subscribe = new SubscribeConnection({
      iceServers, send,
      onStreams: (streams) => this.remoteStreams(streams),
      onTrouble: trouble("subscribe"),
      onRecovered: recovered("subscribe"),
      onUnsteady: unsteady,
    });
    if (this.local.screenTrack) this.publish.setScreen(this.local.screenTrack).catch(logError("publish"));
    else this.publish.negotiate().catch(logError("publish"));
    if (this.welcome) this.welcome.resolve();
    this.setState("connected");
    this.sentView = null; // a new socket knows nothing of what the page displays
    this.emitParticipants();
    this.welcoming = false;
    this.sendView();
  }

  store(info) {
    const participant = {
      id: info.id,
      name: info.name,
      audio: Boolean(info.audio),
      video: Boolean(info.video),
      screen: Boolean(info.screen),
      hand: Boolean(info.hand),
      handOrder: info.hand ? info.hand_order || 0 : 0,
      role: info.role || "participant",
      isSelf: Boolean(info.is_self) || info.id === this.selfId,
      reconnecting: Boolean(info.reconnecting),
    };
    this.participants.set(participant.id, participant);
    return participant;
  }

  upsert(info, joined) {
    const known = this.participants.has(info.id);
    const before = this.participants.get(info.id);
    const participant = this.store(info);
    if (joined && !known && !participant.isSelf) {
      this.emit("notice", { key: "meeting.notice.joined", values: { name: participant.name } });
    }
    if (before && !before.hand && participant.hand && !participant.isSelf) {
      this.emit("notice", { key: "meeting.notice.hand", values: { name: participant.name } });
    }
    if (participant.isSelf && participant.role !== this.role) this.roleChanged(participant.role);
    // The hub sends a newcomer's video as if shown until our next `view`: say it again even
    // when our tiles stay the same (the newcomer is on another page), or it never stops.
    if (!known) this.sentView = null;
    this.emitParticipants();
  }

  roleChanged(role) {
    this.role = role;
    if (!this.isModerator) this.lobbyChanged([]);
    const key = this.isModerator ? "meeting.notice.now_moderator" : "meeting.notice.no_longer_moderator";
    this.emit("notice", { key });
    this.emit("role", role);
  }

  removeParticipant(id) {
    const participant = this.participants.get(id);
    if (!participant) return;
    this.participants.delete(id);
    this.remote.delete(id);
    this.emit("notice", { key: "meeting.notice.left", values: { name: participant.name } });
    this.emitParticipants();
  }

  emitParticipants() {
    this.emit("participants", [...this.participants.values()]);
  }

  hubError(message) {
    if (message.request === "view" && message.code === "unknown_participant") {
      // Someone left between the hub's roster and ours: the next view (it follows the
      // roster) lists them no more. Nothing for the person to see.
      this.sentView = null;
      return;
    }
    console.warn("hub error", message);
    this.lastError = message.message || message.code;
    if (message.code === "rate_limited") {
      const seconds = Number(message.retry_after) > 0 ? Number(message.retry_after) : RATE_LIMIT_DEFAULT_S;
      this.retryAfterUntil = Math.max(this.retryAfterUntil, Date.now() + seconds * 1000);
    }
    if (message.request === "publish_offer" && this.publish) {
      this.publish.rejectPending(new Error(message.message));
    }
    // A refused join fails at once rather than after the welcome timeout.
    if (this.welcome && (message.request === "join" || message.code === "rate_limited")) {
      this.welcome.reject(new Error(this.lastError));
    }
    this.emit("error", message);
  }

  /** Over for good: `reason` "ended" (for everyone) or "partner_removed" (the partner hub
   *  hosting the meeting, `instance`, no longer accepts ours: closed to us, not reconnecting). */
  ended(reason, instance) {
    if (this.state === "ended") return;
    this.keepRejoinTicket(null);
    this.stopReconnecting();
    this.teardown();
    this.local.stopAll();
    this.setState("ended");
    this.emit("ended", { reason, instance });
  }

  // --- the lobby, as the person waiting in it ----------------------------------------------

  /** The hub put us in the lobby: no welcome until a moderator decides, so no timeout. */
  waiting() {
    this.lobbyState = "waiting";
    if (this.publish) this.publish.close();
    if (this.subscribe) this.subscribe.close();
    this.publish = null;
    this.subscribe = null;
    this.participants.clear();
    this.remote.clear();
    this.emitParticipants();
    this.setState("waiting");
    if (this.welcome) this.welcome.resolve();
  }

  admitted() {
    this.lobbyState = "admitted";
    this.emit("admitted");
  }

  /** Refused in the lobby, or removed from the meeting: final, the page does not come back. */
  denied(reason) {
    if (this.state === "denied") return;
    this.keepRejoinTicket(null);
    this.lobbyState = reason;
    this.stopReconnecting();
    const welcome = this.welcome;
    this.teardown();
    this.local.stopAll();
    this.participants.clear();
    this.remote.clear();
    this.setState("denied");
    this.emit("denied", reason);
    if (welcome) welcome.resolve(); // join() is over; the state says how
  }

  // --- the lobby and the meeting, as a moderator (sends are false while the socket is down)

  lobbyChanged(entries) {
    const known = new Set(this.lobby.map((entry) => entry.id));
    this.lobby = (entries || []).map((entry) => ({
      id: entry.id, name: entry.name, kind: entry.kind, since: entry.since, message: entry.message || "",
    }));
    const arrived = this.lobby.filter((entry) => !known.has(entry.id));
    this.emit("lobby", { entries: this.lobby, arrived });
  }

  meetingState(message) {
    const locked = Boolean(message.locked);
    if (locked === this.locked) return;
    this.locked = locked;
    this.emit("notice", { key: locked ? "meeting.notice.locked" : "meeting.notice.unlocked" });
    this.emit("meeting-state", { locked });
  }

  /** Live subtitles started, stopped, or became (un)available (`welcome`: as they are when
   *  this page arrives, nothing to announce unless they are on). */
  subtitlesState({ state, by, welcome = false }) {
    const before = welcome ? "off" : this.subtitles || "off";
    this.subtitles = state;
    this.emit("subtitles", { state, before, by: by || null });
  }

  setSubtitles(on) {
    return this.send({ type: "subtitles", on });
  }

  /** A moderator turned our microphone or camera off at the hub: do the same here, so what
   *  the page shows is what the others get, and tell the hub our state matches. */
  mutedBy({ kind, by }) {
    if (kind === "video") {
      this.local.stopVideo();
      this.video = false;
    } else {
      this.local.setAudioEnabled(false);
      this.audio = false;
    }
    this.sendMedia();
    const key = kind === "video" ? "meeting.notice.muted_video" : "meeting.notice.muted_audio";
    this.emit("notice", { key, values: { name: by || "?" } });
    this.emit("local-media", kind);
  }

  /** The link to the instance hosting the meeting dropped (its people left our view) or is back. */
  cascadeState({ state, instance }) {
    const key = {
      lost: "meeting.notice.cascade_lost",
      restarting: "meeting.notice.cascade_restarting",
    }[state] || "meeting.notice.cascade_restored";
    this.emit("notice", { key, values: { instance: instance || "?" } });
  }

  admit(entryId) {
    return this.send({ type: "admit", entry_id: entryId });
  }

  /** Refuse someone waiting; `reason` (cleaned, may be empty) is what they will read. */
  deny(entryId, reason = "") {
    const message = { type: "deny", entry_id: entryId };
    if (reason) message.message = reason;
    return this.send(message);
  }

  muteParticipant(participantId, kind) {
    return this.send({ type: "mute", participant_id: participantId, kind });
  }

  removeFromMeeting(participantId) {
    return this.send({ type: "remove", participant_id: participantId });
  }

  setRole(participantId, role) {
    return this.send({ type: "set_role", participant_id: participantId, role });
  }

  setLocked(locked) {
    return this.send({ type: "lock", locked });
  }

  /** A moderator lowers one person's raised hand, or everybody's (no id). */
  lowerHands(participantId = null) {
    return this.send(participantId ? { type: "lower_hands", participant_id: participantId } : { type: "lower_hands" });
  }

  endMeeting() {
    return this.send({ type: "end_meeting" });
  }

  /** Group the subscribe connection's tracks per participant and source. */
  remoteStreams(streams) {
    const remote = new Map();
    for (const { participantId, source, track } of streams) {
      const slot = source === "screen" ? "screen" : source === "camera" ? "camera" : source === "screen_audio" ? "screenAudio" : "audio";
      if (!remote.has(participantId)) remote.set(participantId, {});
      let stream = this.streamCache.get(track);
      if (!stream) {
        stream = new MediaStream([track]);
        this.streamCache.set(track, stream);
      }
      remote.get(participantId)[slot] = stream;
    }
    this.remote = remote;
    this.emit("media", remote);
  }

  // --- ICE trouble: restart first, rejoin if that is not enough ----------------------------

  iceTrouble(name) {
    this.troubled.add(name);
    if (this.state === "connected") this.setState("reconnecting");
    // Publish: we are the offerer, so we restart ICE. Subscribe: the hub is, and it answers
    // `reconnect` with an offer for a fresh connection (docs/signaling.md).
    if (name === "publish" && this.publish) this.publish.restartIce().catch(logError("ICE restart"));
    if (name === "subscribe") this.send({ type: "reconnect" });
    window.clearTimeout(this.recoveryTimer);
    this.recoveryTimer = window.setTimeout(() => {
      if (this.troubled.size > 0 && !this.reconnect) this.startReconnect();
    }, MEDIA_RECOVERY_MS);
  }

  /** The hub's view of one of our connections: it lost it (restart now, do not wait for the
   * browser to notice), it stopped hearing from it (show it), or all is well again. */
  mediaState(message) {
    const name = message.pc === "subscribe" ? "subscribe" : "publish";
    if (message.state === "failed") return this.iceTrouble(name);
    if (message.state === "suspect") {
      this.troubled.add(name);
      if (this.state === "connected") this.setState("reconnecting");
      return undefined;
    }
    return this.iceRecovered(name);
  }

  /** The hub is restarting: the socket closes next and the reconnect loop brings us back. */
  hubRestarting() {
    this.restartNoticeAt = Date.now();
    this.emit("notice", { key: "meeting.notice.restarting" });
  }

  iceRecovered(name) {
    this.troubled.delete(name);
    if (this.troubled.size === 0) {
      window.clearTimeout(this.recoveryTimer);
      if (this.state === "reconnecting" && !this.reconnect) this.setState("connected");
    }
  }

  // --- the person's own actions -----------------------------------------------------------

  self() {
    return this.participants.get(this.selfId);
  }

  updateSelf(changes) {
    const self = this.self();
    if (self) Object.assign(self, changes);
    this.emitParticipants();
  }

  sendMedia() {
    this.send({ type: "media", audio: this.audio, video: this.video });
    this.updateSelf({ audio: this.audio, video: this.video });
  }

  async setAudio(on) {
    if (on && !this.local.hasAudio) await this.local.acquire("audio", this.local.audioDeviceId);
    this.local.setAudioEnabled(on);
    this.audio = on;
    this.sendMedia();
  }

  async setVideo(on) {
    if (on) await this.local.startVideo();
    else this.local.stopVideo();
    this.video = on;
    this.sendMedia();
  }

  async toggleScreen() {
    if (this.local.screenTrack) this.local.stopScreen();
    else await this.local.startScreen();
  }

  setHand(raised) {
    this.hand = raised;
    this.send({ type: "hand", raised });
    this.updateSelf({ hand: raised });
  }

  sendChat(text) {
    return this.send({ type: "chat", text });
  }

  localTrackChanged(kind, track) {
    if (kind === "screen") {
      this.updateSelf({ screen: Boolean(track) });
      this.emit("local-screen", track);
      if (this.publish) this.publish.setScreen(track).catch(logError("screen"));
      return;
    }
    if (this.publish) this.publish.replaceTrack(kind, track).catch(logError("replaceTrack"));
    this.emit("local-media", kind);
  }
}

function logError(what) {
  return (error) => console.warn(`${what} failed`, error);
}
