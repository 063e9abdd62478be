// Entry point of the meeting page: reads the page's settings and strings, wires the pre-join
// screen, the call and the room view together, and exposes a read-only hook for tests.

import { loadStrings, readJson, t } from "./i18n.js";
import { LocalMedia } from "./devices.js";
import { Call } from "./call.js";
import { PrejoinView } from "./prejoin.js";
import { RoomView } from "./room-view.js";

const $ = (id) => document.getElementById(id);

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function main() {
  loadStrings();
  const settings = readJson("meeting-settings");
  const local = new LocalMedia();
  const call = new Call({ settings, localMedia: local });
  const room = new RoomView({ call, local });
  const prejoin = new PrejoinView({
    local,
    onJoin: async (choice) => {
      await call.join(choice);
      prejoin.hide();
      room.show();
    },
  });

  /** The page after the meeting: left on purpose (may rejoin) or ended for everyone. */
  function showAfter(kind) {
    prejoin.hide();
    room.hide();
    $("after").hidden = false;
    $("after-title").textContent = t(`meeting.${kind}.heading`);
    $("after-text").textContent = t(`meeting.${kind}.text`);
    $("rejoin").hidden = kind === "ended";
    document.title = `${t(`meeting.${kind}.heading`)} — ${settings.title}`;
    $("after-title").focus();
  }

  call.on("ended", () => showAfter("ended"));
  $("leave").addEventListener("click", () => {
    call.leave();
    showAfter("left");
  });
  // A fresh pre-join (new permission check, new devices) is the simplest correct rejoin.
  $("rejoin").addEventListener("click", () => window.location.reload());
  $("copy-link").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(settings.url);
      room.notify(t("meeting.link_copied"));
    } catch {
      room.notify(t("meeting.link_copy_failed", { url: settings.url }));
    }
  });
  const endButton = $("end-for-all");
  if (endButton && settings.endPath) {
    endButton.addEventListener("click", async () => {
      if (!window.confirm(t("meeting.end_confirm"))) return;
      try {
        const answer = await fetch(settings.endPath, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
        });
        if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
        if (call.state !== "ended") call.ended("ended by owner");
      } catch (error) {
        console.warn("ending the meeting failed", error);
        room.notify(t("meeting.end.failed"), "error");
      }
    });
  }
  // Closing the tab leaves at once instead of waiting for the hub to notice a dead socket.
  window.addEventListener("pagehide", () => {
    if (call.state !== "idle") call.leave();
  });

  // Read-only view for browser tests; the only global this page creates.
  window.visioDebug = Object.freeze({
    state: () => call.state,
    participants: () => [...call.participants.values()].map((p) => ({
      id: p.id, name: p.name, audio: p.audio, video: p.video, hand: p.hand, screen: p.screen, isSelf: p.isSelf,
    })),
    publishPc: () => (call.publish ? call.publish.pc : null),
    subscribePc: () => (call.subscribe ? call.subscribe.pc : null),
    streams: () => (call.subscribe ? call.subscribe.streams.map((s) => ({ ...s })) : []),
  });

  prejoin.start();
}

main();
