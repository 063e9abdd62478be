// Entry point of the meeting page: reads the page's settings, strings and join token, wires the
// pre-join screen, the lobby's waiting screen, the call and the room view together, and exposes
// a read-only hook for tests.

import { loadStrings, readJson, t } from "./i18n.js";
import { LocalMedia } from "./devices.js";
import { Call } from "./call.js";
import { PrejoinView } from "./prejoin.js";
import { RoomView } from "./room-view.js";
import { WaitingRoom } from "./waiting-room.js";
import { IdentityBlocked, MatrixWidget, WidgetIdentity, widgetContext } from "./widget.js";
import { $ } from "./dom.js";


/**
 * The join token of a link's `#token=...` fragment (fragments never reach a server), removed
 * from the address bar at once so that copying the address does not share it.
 */
function takeJoinToken() {
  const fragment = window.location.hash.slice(1);
  if (!fragment) return null;
  const token = new URLSearchParams(fragment).get("token");
  if (token === null) return null;
  window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search);
  return token || null;
}

/**
 * Widget mode (`?widget=1`, inside a Matrix client): the Matrix client vouches for who this is,
 * instead of a typed name, and Join shows only once the hub has checked it. Returns the
 * identity (its token goes with every join), or null outside a Matrix client's frame.
 */
function startWidget(settings, onVerified) {
  if (!settings.widget) return null;
  const context = widgetContext(settings.widget);
  if (!context) {
    // Opened on its own (not framed): an ordinary meeting page, name field and all.
    $("widget-status").hidden = true;
    $("name-field").hidden = false;
    $("knock-field").hidden = false;
    return null;
  }
  const widget = new MatrixWidget(context);
  widget.start();
  const identity = new WidgetIdentity(widget, settings.widget, context.displayName);
  let joined = false;
  const status = $("widget-status");
  const problem = $("widget-problem");
  const check = async () => {
    problem.hidden = true;
    $("join-button").hidden = true;
    status.textContent = t("meeting.widget.checking");
    try {
      const who = await identity.who();
      $("name").value = who.display_name;
      status.textContent = t("meeting.widget.verified", {
        name: who.display_name, id: who.identity.replace(/^matrix:/, ""),
      });
      $("join-button").hidden = false;
      // The Matrix client already said who this is: straight into the call (camera and
      // microphone are chosen inside it), no second pre-join. Once: a failed join stays here
      // with its Join button.
      if (!joined) {
        joined = true;
        onVerified();
      }
    } catch (error) {
      console.warn("Matrix identity not verified", error);
      status.textContent = "";
      const blocked = error instanceof IdentityBlocked;
      const partner = error.partner;
      $("widget-problem-text").textContent = partner
        ? t("meeting.widget.partner", { instance: partner.label })
        : t(blocked ? "meeting.widget.blocked" : "meeting.widget.failed");
      $("widget-problem-detail").textContent = partner ? "" : error.hubMessage || "";
      $("widget-problem-detail").hidden = Boolean(partner) || !error.hubMessage;
      const link = $("widget-partner-link");
      link.textContent = partner ? t("meeting.widget.partner_link", { instance: partner.label }) : "";
      link.href = partner ? partner.url : "#";
      $("widget-partner").hidden = !partner;
      $("widget-retry").hidden = Boolean(partner);
      problem.hidden = false;
    }
  };
  $("widget-retry").addEventListener("click", check);
  check();
  return identity;
}

function main() {
  loadStrings();
  const settings = readJson("meeting-settings");
  const token = takeJoinToken();
  const local = new LocalMedia();
  let prejoin = null;
  const identity = startWidget(settings, () => prejoin.join());
  const call = new Call({ settings, localMedia: local, token: identity ? () => identity.token() : token });
  const room = new RoomView({ call, local });
  prejoin = new PrejoinView({ local, onJoin: (choice) => call.join(choice) });
  const leave = () => {
    call.leave();
    showAfter("left");
  };
  const waitingRoom = new WaitingRoom({ call, onLeave: leave });

  /** The page after the meeting: left on purpose (may rejoin), ended for everyone, or
   *  refused / removed by a moderator (final: no way back from this page). */
  function showAfter(kind, values = {}) {
    prejoin.hide();
    waitingRoom.hide();
    room.hide();
    $("after").hidden = false;
    $("after-title").textContent = t(`meeting.${kind}.heading`, values);
    $("after-text").textContent = t(`meeting.${kind}.text`, values);
    // A refusal's reason, in the moderator's words (plain text, never markup).
    const reason = kind === "denied" ? call.refusal : null;
    $("after-reason").textContent = reason ? t("meeting.denied.reason", { reason }) : "";
    $("after-reason").hidden = !reason;
    $("rejoin").hidden = kind !== "left";
    $("after").dataset.kind = kind;
    document.title = `${t(`meeting.${kind}.heading`, values)} — ${settings.title}`;
    $("after-title").focus();
  }

  // Which screen shows follows the call: the lobby while waiting, the room once welcomed.
  call.on("state", (state) => {
    if (state === "waiting" && !waitingRoom.visible) {
      prejoin.hide();
      room.hide();
      waitingRoom.show();
    } else if (state === "connected" && room.root.hidden) {
      prejoin.hide();
      waitingRoom.hide();
      room.show();
    }
  });
  call.on("denied", (reason) => showAfter(reason === "removed" ? "removed" : "denied"));
  call.on("ended", ({ reason, instance }) =>
    reason === "partner_removed"
      ? showAfter("partner_removed", { instance: instance || "?" })
      : showAfter("ended"));
  $("leave").addEventListener("click", leave);
  // A fresh pre-join (new permission check, new devices) is the simplest correct rejoin; the
  // join token goes back in the fragment for the new page to take.
  $("rejoin").addEventListener("click", () => {
    if (token) window.history.replaceState(window.history.state, "", `#token=${encodeURIComponent(token)}`);
    window.location.reload();
  });
  $("copy-link").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(settings.url);
      room.notify(t("meeting.link_copied"));
    } catch {
      room.notify(t("meeting.link_copy_failed", { url: settings.url }));
    }
  });

  // Any moderator (the owner included) ends the meeting over the socket; the hub checks the
  // role, tells everyone `ended` and closes the sockets, which closes this page too.
  $("end-for-all").addEventListener("click", () => {
    if (!window.confirm(t("meeting.end_confirm"))) return;
    if (!call.endMeeting()) room.notify(t("meeting.end.failed"), "error");
  });
  // Closing the tab leaves at once instead of waiting for the hub to notice a dead socket.
  window.addEventListener("pagehide", () => {
    if (call.state !== "idle") call.leave();
  });

  // Read-only view for browser tests; the only global this page creates.
  window.visioDebug = Object.freeze({
    state: () => call.state,
    participants: () => [...call.participants.values()].map((p) => ({
      id: p.id, name: p.name, audio: p.audio, video: p.video, hand: p.hand, screen: p.screen, role: p.role, isSelf: p.isSelf, reconnecting: p.reconnecting,
    })),
    publishPc: () => (call.publish ? call.publish.pc : null),
    subscribePc: () => (call.subscribe ? call.subscribe.pc : null),
    streams: () => (call.subscribe ? call.subscribe.streams.map((s) => ({ ...s })) : []),
    role: () => call.role,
    lobby: () => call.lobby.map((entry) => ({ ...entry })),
    locked: () => call.locked,
    waiting: () => call.state === "waiting",
    lobbyState: () => call.lobbyState,
    refusal: () => call.refusal,
    audio: () => call.audio,
    video: () => call.video,
    hasToken: () => Boolean(call.token),
    devices: () => ({
      audio: local.audioTrack ? local.audioTrack.getSettings().deviceId : null,
      video: local.videoTrack ? local.videoTrack.getSettings().deviceId : null,
    }),
  });

  prejoin.start();
}

main();
