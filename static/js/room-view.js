// The in-meeting screen: video tiles, side panels (participants, chat, lobby), toolbar and
// announcements. It only reads the Call's state and calls its actions; every text comes from t().

import { t } from "./i18n.js";
import { $, element } from "./dom.js";
import { LobbyPanel } from "./lobby-panel.js";
import { ParticipantList, stateBadges } from "./participant-list.js";
import { fitFocus, fitGrid, pageCapacity, paginate } from "./layout.js";
import { SettingsPanel } from "./settings-panel.js";
import { Reactions } from "./reactions.js";
import { RecordingView } from "./recording.js";
import { SubtitlesView } from "./subtitles.js";

const NOTICE_MS = 6000;
const MAX_NOTICES = 4;
// The side panels and the toolbar buttons that open them.
const PANELS = {
  participants: "toggle-participants", chat: "toggle-chat", lobby: "toggle-lobby", settings: "toggle-settings",
};
const GAP = 8; // px between tiles, as in the stylesheet's --gap
const PAGER_HEIGHT = 44; // px kept under the grid for the page buttons when there are pages
// Toolbar toggles: the state attribute and the accessible name say what a press does now.
const TOGGLES = {
  "toggle-mic": { on: "meeting.mic", off: "meeting.mic_unmute", icons: ["i-mic", "i-mic-off"] },
  "toggle-camera": { on: "meeting.camera", off: "meeting.camera_on", icons: ["i-camera", "i-camera-off"] },
  "toggle-screen": { on: "meeting.screen_stop", off: "meeting.screen" },
  "toggle-hand": { on: "meeting.hand_lower", off: "meeting.hand" },
  "toggle-lock": { on: "meeting.unlock", off: "meeting.lock", icons: ["i-unlock", "i-lock"] },
  "toggle-layout": { on: "meeting.layout.grid", off: "meeting.layout.speaker", icons: ["i-grid", "i-layout"] },
};
// Errors the page handles itself rather than showing the hub's text.
const QUIET_ERRORS = new Set(["not_admitted"]);

/** Set a toolbar toggle's state, accessible name, visible label and icon. */
function setToggle(id, on) {
  const spec = TOGGLES[id];
  const button = $(id);
  const label = t(on ? spec.on : spec.off);
  button.dataset.state = on ? "on" : "off";
  button.dataset.tip = label;
  button.querySelector(".tool-label").textContent = label;
  if (spec.icons) button.querySelector("use").setAttribute("href", `#${spec.icons[on ? 0 : 1]}`);
}

function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  return words.slice(0, 2).map((word) => word[0].toUpperCase()).join("") || "?";
}

/** Show `stream` in `video` without resetting playback when it is already there. */
function attach(video, stream) {
  if (video.srcObject !== stream) video.srcObject = stream || null;
}

export class RoomView {
  constructor({ call, local }) {
    this.call = call;
    this.local = local;
    this.root = $("room");
    this.grid = $("grid");
    this.tiles = new Map(); // tile key -> <li>
    this.sinks = new Map(); // participant id -> <audio>
    this.selfCamera = null; // MediaStreams around the local camera and screen tracks
    this.selfScreen = null;
    this.panel = null;
    this.unread = 0;
    this.pendingChat = [];
    this.speakerView = false;
    this.pinned = null; // the tile key shown large, chosen by this person
    this.page = 0;
    const notify = (text, kind) => this.notify(text, kind);
    this.participantList = new ParticipantList({ call, notify });
    this.lobbyPanel = new LobbyPanel({ call, notify });
    this.settings = new SettingsPanel({ call, local, sinks: () => [...this.sinks.values()] });
    this.reactions = new Reactions({ call, notify });
    this.subtitles = new SubtitlesView({ call, notify });
    this.recording = new RecordingView({ call, notify });
    this.wire();
  }

  wire() {
    const call = this.call;
    call.on("state", (state) => this.renderState(state));
    call.on("participants", () => this.render());
    call.on("media", () => this.render());
    call.on("local-media", () => this.render());
    call.on("local-screen", () => this.render());
    call.on("speaker", () => this.renderSpeaker());
    call.on("reception", () => { for (const key of this.tiles.keys()) this.renderReception(key); });
    call.on("chat", (message) => this.addChat(message));
    call.on("notice", ({ key, values }) => this.notify(t(key, values)));
    call.on("error", (message) => this.hubError(message));
    call.on("role", () => this.render());
    call.on("meeting-state", () => this.renderModeration());

    this.toggle("toggle-mic", () => !this.call.audio, (off) => this.call.setAudio(!off), "meeting.devices.busy");
    this.toggle("toggle-camera", () => !this.call.video, (off) => this.call.setVideo(!off), "meeting.camera.failed");
    this.toggle("toggle-screen", () => Boolean(this.local.screenTrack), () => this.call.toggleScreen(), "meeting.screen.failed");
    this.toggle("toggle-hand", () => this.call.hand, (raised) => this.call.setHand(raised), null);
    for (const [name, id] of Object.entries(PANELS)) {
      $(id).addEventListener("click", () => this.openPanel(this.panel === name ? null : name));
    }
    $("toggle-lock").addEventListener("click", () => {
      if (!this.call.setLocked(!this.call.locked)) this.notify(t("meeting.moderation.not_sent"), "error");
    });
    $("toggle-layout").addEventListener("click", () => {
      this.speakerView = !this.speakerView;
      this.pinned = null;
      setToggle("toggle-layout", this.speakerView);
      this.layout();
    });
    $("toggle-more").addEventListener("click", () => this.openMore(!this.moreOpen()));
    // The menu closes after any choice in it, on Escape and on a click elsewhere.
    $("toolbar-more").addEventListener("click", (event) => {
      if (event.target.closest("button")) this.openMore(false);
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.moreOpen()) {
        this.openMore(false);
        $("toggle-more").focus();
      }
    });
    document.addEventListener("click", (event) => {
      if (this.moreOpen() && !event.target.closest(".toolbar")) this.openMore(false);
    });
    $("page-prev").addEventListener("click", () => this.turnPage(-1));
    $("page-next").addEventListener("click", () => this.turnPage(1));
    // The tiles follow the stage's size: window, side panel, phone rotation.
    new ResizeObserver(() => this.layout()).observe($("stage"));
    for (const button of this.root.querySelectorAll(".panel-close")) {
      button.addEventListener("click", () => this.openPanel(null));
    }
    $("reconnect").addEventListener("click", () => this.call.retry());
    $("chat-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendChat();
    });
  }

  /** A toolbar toggle: `isOn()` gives its state, `act(next)` changes it, errors are shown. */
  toggle(id, isOn, act, failureKey) {
    const button = $(id);
    button.addEventListener("click", async () => {
      try {
        await act(!isOn());
      } catch (error) {
        console.warn(`${id} failed`, error);
        if (failureKey) this.notify(t(failureKey), "error");
      }
      this.renderToolbar();
    });
  }

  moreOpen() {
    return $("toggle-more").getAttribute("aria-expanded") === "true";
  }

  openMore(open) {
    $("toggle-more").setAttribute("aria-expanded", String(open));
    this.root.querySelector(".toolbar").classList.toggle("more-open", open);
  }

  turnPage(step) {
    this.page += step;
    this.layout();
  }

  show() {
    this.root.hidden = false;
    this.render();
    this.renderState(this.call.state);
    $("room-title").focus();
  }

  hide() {
    this.root.hidden = true;
    this.settings.close();
    for (const audio of this.sinks.values()) audio.srcObject = null;
  }

  renderState(state) {
    const badge = $("connection-state");
    badge.dataset.state = state;
    badge.textContent = t(`meeting.state.${state}`);
    // Automatic reconnection gave up (or the hub said not to come back): offer it by hand.
    $("reconnect").hidden = state !== "disconnected";
  }

  render() {
    this.renderGrid();
    this.renderAudio();
    this.participantList.render();
    this.renderToolbar();
    this.renderSpeaker();
    this.renderModeration();
  }

  /** What depends on the role (moderation controls) and the meeting's lock, for everyone. */
  renderModeration() {
    const moderator = this.call.isModerator;
    for (const id of ["toggle-lobby", "toggle-lock"]) $(id).hidden = !moderator;
    $("end-for-all").hidden = !moderator;
    setToggle("toggle-lock", this.call.locked);
    $("locked-indicator").hidden = !this.call.locked;
    if (!moderator && this.panel === "lobby") this.openPanel(null);
    this.lobbyPanel.render();
  }

  hubError(message) {
    if (QUIET_ERRORS.has(message.code)) return;
    if (message.request === "end_meeting") {
      this.notify(t("meeting.end.failed"), "error");
      return;
    }
    if (message.code === "rate_limited") {
      const seconds = Math.max(1, Math.ceil(this.call.retryWait() / 1000));
      this.notify(t("meeting.rate_limited", { seconds }), "error");
      return;
    }
    this.notify(t("meeting.notice.error", { message: message.message || message.code }), "error");
  }

  renderToolbar() {
    setToggle("toggle-mic", this.call.audio);
    setToggle("toggle-camera", this.call.video);
    setToggle("toggle-screen", Boolean(this.local.screenTrack));
    setToggle("toggle-hand", this.call.hand);
    setToggle("toggle-layout", this.speakerView);
  }

  /** One tile per participant, plus a larger one per screen share. */
  renderGrid() {
    const wanted = new Map();
    for (const participant of this.call.participants.values()) {
      const remote = this.call.remote.get(participant.id) || {};
      let camera = remote.camera;
      let screen = remote.screen;
      if (participant.isSelf) {
        camera = this.selfStream("selfCamera", this.local.videoTrack);
        screen = this.selfStream("selfScreen", this.local.screenTrack);
      }
      const showVideo = Boolean(camera) && (participant.isSelf ? this.call.video : participant.video);
      wanted.set(`${participant.id}:camera`, { participant, stream: showVideo ? camera : null, screen: false });
      if (screen || participant.screen) {
        wanted.set(`${participant.id}:screen`, { participant, stream: screen || null, screen: true });
      }
    }
    for (const [key, tile] of this.tiles) {
      if (!wanted.has(key)) {
        tile.remove();
        this.tiles.delete(key);
      }
    }
    for (const [key, spec] of wanted) this.renderTile(key, spec);
    if (this.pinned && !this.tiles.has(this.pinned)) this.pinned = null;
    this.layout();
  }

  /** Place the tiles: oneself small in a corner once someone else is here; a screen share,
   * the pinned person or (speaker view) the active speaker large with the others in a strip;
   * otherwise a grid. Tiles beyond what fits go to other pages; only the shown ones are
   * visible. */
  layout() {
    const stage = $("stage");
    if (this.root.hidden || !stage.clientWidth) return;
    const style = getComputedStyle(stage);
    const width = stage.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const height = stage.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const selfKey = `${this.call.selfId}:camera`;
    const keys = [...this.tiles.keys()];
    // Screens first, then cameras, each in arrival order.
    const others = [
      ...keys.filter((key) => key !== selfKey && this.tiles.get(key).dataset.source === "screen"),
      ...keys.filter((key) => key !== selfKey && this.tiles.get(key).dataset.source === "camera"),
    ];
    const self = this.tiles.get(selfKey);
    const inGrid = others.length ? others : self ? [selfKey] : [];
    if (self) self.classList.toggle("tile-pip", others.length > 0);
    const speaker = `${this.call.activeSpeaker}:camera`;
    const focus =
      others.find((key) => key.endsWith(":screen")) ||
      (this.pinned && others.includes(this.pinned) ? this.pinned : null) ||
      (this.speakerView && others.length > 1 ? (others.includes(speaker) ? speaker : others[0]) : null);
    let shown;
    let pages;
    this.grid.dataset.layout = focus ? "focus" : "grid";
    if (focus) {
      const rest = inGrid.filter((key) => key !== focus);
      let fit = fitFocus(rest.length, width, height, GAP);
      const paged = paginate(rest, fit.strip.perPage, this.page);
      if (paged.pages > 1) fit = fitFocus(rest.length, width, height - PAGER_HEIGHT, GAP);
      ({ pages, page: this.page } = paged);
      shown = [focus, ...paged.items];
      this.grid.style.setProperty("--focus-w", `${fit.focus.width}px`);
      this.grid.style.setProperty("--focus-h", `${fit.focus.height}px`);
      this.grid.style.setProperty("--strip-w", `${fit.strip.width}px`);
      this.grid.style.setProperty("--strip-h", `${fit.strip.height}px`);
      // The large tile fills its row, so the strip always starts under it.
      const side = Math.max(0, Math.floor((width - fit.focus.width) / 2));
      this.grid.style.setProperty("--focus-side", `${side}px`);
    } else {
      const minWidth = width < 600 ? 110 : 180;
      const perPage = pageCapacity(width, height - PAGER_HEIGHT, GAP, minWidth);
      const capacity = inGrid.length <= pageCapacity(width, height, GAP, minWidth) ? inGrid.length : perPage;
      const paged = paginate(inGrid, capacity, this.page);
      ({ pages, page: this.page } = paged);
      shown = paged.items;
      const fit = fitGrid(shown.length, width, height - (pages > 1 ? PAGER_HEIGHT : 0), GAP);
      this.grid.style.setProperty("--tile-w", `${fit.width}px`);
      this.grid.style.setProperty("--tile-h", `${fit.height}px`);
    }
    const visible = new Set(shown);
    for (const [key, tile] of this.tiles) {
      const pip = tile === self && others.length > 0;
      tile.hidden = !pip && !visible.has(key);
      tile.classList.toggle("tile-focus", key === focus);
      tile.style.order = String(visible.has(key) ? shown.indexOf(key) : 999);
      const pin = tile.querySelector(".tile-pin");
      if (pin) this.renderPin(pin, key, tile);
    }
    this.reportView(shown);
    $("pager").hidden = pages <= 1;
    $("page-status").textContent = t("meeting.page.status", { page: this.page + 1, pages });
    $("page-prev").disabled = this.page === 0;
    $("page-next").disabled = this.page >= pages - 1;
  }

  /** Tell the hub whose video is on screen and how large (device pixels): a person off this
   *  page, or whose camera is off, needs no video; a small tile needs a small layer. */
  reportView(shown) {
    const ratio = window.devicePixelRatio || 1;
    const sizes = new Map(); // participant id -> [width, height], their largest tile
    for (const key of shown) {
      const tile = this.tiles.get(key);
      const id = tile && tile.dataset.participant;
      if (!id || id === this.call.selfId) continue;
      const box = tile.getBoundingClientRect();
      const [width, height] = sizes.get(id) || [0, 0];
      sizes.set(id, [Math.max(width, Math.round(box.width * ratio)), Math.max(height, Math.round(box.height * ratio))]);
    }
    this.call.setView([...sizes].map(([participant, [width, height]]) => ({ participant, width, height })));
  }

  renderPin(pin, key, tile) {
    const pinned = this.pinned === key;
    const name = tile.dataset.name;
    pin.dataset.state = pinned ? "on" : "off";
    pin.setAttribute("aria-label", t(pinned ? "meeting.unpin" : "meeting.pin", { name }));
  }

  /** A stream around one local track, kept while the track stays the same. */
  selfStream(slot, track) {
    if (!track) return null;
    if (!this[slot] || this[slot].getVideoTracks()[0] !== track) this[slot] = new MediaStream([track]);
    return this[slot];
  }

  renderTile(key, { participant, stream, screen }) {
    let tile = this.tiles.get(key);
    if (!tile) {
      tile = element("li", screen ? "tile tile-screen" : "tile");
      tile.dataset.participant = participant.id;
      tile.dataset.source = screen ? "screen" : "camera";
      const video = element("video");
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true; // sound plays through the audio sinks, once per participant
      if (participant.isSelf && !screen) video.className = "mirrored";
      const avatar = element("div", "avatar");
      avatar.setAttribute("aria-hidden", "true");
      avatar.append(element("span"));
      tile.append(video, avatar, element("p", "tile-label"));
      if (!participant.isSelf || screen) {
        const pin = element("button", "tile-pin");
        pin.type = "button";
        pin.insertAdjacentHTML("beforeend", '<svg class="icon" aria-hidden="true"><use href="#i-pin"></use></svg>');
        pin.addEventListener("click", () => {
          this.pinned = this.pinned === key ? null : key;
          this.layout();
        });
        tile.append(pin);
      }
      this.tiles.set(key, tile);
      this.grid.append(tile);
    }
    const name = participant.isSelf ? t("meeting.you", { name: participant.name }) : participant.name;
    tile.dataset.name = screen ? t("meeting.screen_of", { name }) : name;
    const video = tile.querySelector("video");
    attach(video, stream);
    video.hidden = !stream;
    const avatar = tile.querySelector(".avatar");
    avatar.hidden = Boolean(stream);
    avatar.firstChild.textContent = initials(participant.name);
    const label = tile.querySelector(".tile-label");
    label.replaceChildren(element("span", "tile-name", screen ? t("meeting.screen_of", { name }) : name));
    if (!screen) {
      const turn = this.participantList.turns().get(participant.id);
      for (const badge of stateBadges(participant, turn)) label.append(badge);
    }
    this.renderReception(key);
  }

  /** The quality the hub sends us of this tile's video; paused: a notice instead of a frozen picture. */
  renderReception(key) {
    const tile = this.tiles.get(key);
    if (!tile) return;
    const quality = (this.call.reception && this.call.reception.get(key)) || "";
    const paused = quality === "paused";
    const video = tile.querySelector("video");
    if (paused) {
      video.hidden = true;
      tile.querySelector(".avatar").hidden = false;
    }
    if (tile.dataset.quality === quality) return;
    tile.dataset.quality = quality;
    let meter = tile.querySelector(".tile-quality");
    if (!quality) {
      if (meter) meter.remove();
      return;
    }
    if (!meter) {
      meter = element("span", "tile-quality");
      meter.setAttribute("role", "img");
      tile.append(meter);
    }
    const text = paused ? t("meeting.video_paused") : t(`meeting.quality.${quality}`);
    meter.setAttribute("aria-label", text);
    meter.title = text;
    meter.replaceChildren(...(paused ? [element("span", "", text)] : [element("i"), element("i"), element("i")]));
    if (!paused && video.srcObject) {
      video.hidden = false;
      tile.querySelector(".avatar").hidden = true;
    }
  }

  /** One <audio> per remote participant; our own sound is never played back to us. */
  renderAudio() {
    const container = $("audio-sinks");
    const wanted = new Map();
    for (const [id, streams] of this.call.remote) {
      if (id !== this.call.selfId && streams.audio) wanted.set(id, streams.audio);
    }
    for (const [id, audio] of this.sinks) {
      if (!wanted.has(id)) {
        audio.srcObject = null;
        audio.remove();
        this.sinks.delete(id);
      }
    }
    for (const [id, stream] of wanted) {
      let audio = this.sinks.get(id);
      if (!audio) {
        audio = element("audio");
        audio.autoplay = true;
        container.append(audio);
        this.sinks.set(id, audio);
        this.settings.route(audio);
      }
      attach(audio, stream);
    }
  }

  renderSpeaker() {
    for (const tile of this.tiles.values()) {
      const speaking = tile.dataset.source === "camera" && tile.dataset.participant === this.call.activeSpeaker;
      tile.classList.toggle("speaking", speaking);
    }
    if (this.speakerView && !this.pinned) this.layout();
  }

  openPanel(name) {
    const previous = this.panel;
    this.panel = name;
    $("side-panel").hidden = name === null;
    for (const [panel, id] of Object.entries(PANELS)) {
      $(`${panel}-panel`).hidden = name !== panel;
      $(id).setAttribute("aria-expanded", String(name === panel));
    }
    if (previous === "settings" && name !== "settings") this.settings.close();
    if (name === "settings") this.settings.open();
    if (name === "chat") {
      this.unread = 0;
      $("chat-unread").hidden = true;
      $("chat-input").focus();
    } else if (name) {
      $(PANELS[name]).focus();
    } else if (previous && !$(PANELS[previous]).hidden) {
      $(PANELS[previous]).focus();
    }
  }

  sendChat() {
    const input = $("chat-input");
    const text = input.value.trim();
    if (!text) return;
    if (!this.call.sendChat(text)) {
      this.notify(t("meeting.state.reconnecting"), "error");
      return;
    }
    input.value = "";
    // Shown at once, greyed, until the hub's broadcast of it comes back.
    const self = this.call.self();
    const item = this.chatItem(self ? self.name : "", text, null);
    item.classList.add("pending");
    this.pendingChat.push({ text, item });
  }

  addChat(message) {
    if (message.participant_id === this.call.selfId) {
      const index = this.pendingChat.findIndex((entry) => entry.text === message.text);
      if (index >= 0) {
        const [{ item }] = this.pendingChat.splice(index, 1);
        item.classList.remove("pending");
        item.querySelector(".chat-meta").textContent = this.chatMeta(message.name, message.at);
        return;
      }
    }
    this.chatItem(message.name, message.text, message.at);
    if (this.panel !== "chat" && message.participant_id !== this.call.selfId) {
      this.unread += 1;
      const badge = $("chat-unread");
      badge.textContent = String(this.unread);
      badge.hidden = false;
      this.notify(t("meeting.chat.new", { name: message.name }));
    }
  }

  chatMeta(name, at) {
    const time = at ? new Date(at) : new Date();
    const clock = time.toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
    return `${name} · ${clock}`;
  }

  chatItem(name, text, at) {
    const item = element("li");
    item.append(element("span", "chat-meta", this.chatMeta(name, at)), element("span", "chat-text", text));
    $("chat-log").append(item);
    $("chat-empty").hidden = true;
    item.scrollIntoView({ block: "nearest" });
    return item;
  }

  /** A short polite announcement that fades; errors stay visible a little longer. */
  notify(text, kind = "info") {
    const box = $("notices");
    const note = element("p", kind === "error" ? "notice-error" : "", text);
    box.append(note);
    while (box.children.length > MAX_NOTICES) box.firstChild.remove();
    window.setTimeout(() => note.remove(), kind === "error" ? NOTICE_MS * 2 : NOTICE_MS);
  }
}
