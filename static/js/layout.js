// Where the tiles go: pure geometry, no DOM. The stage never scrolls, so every tile of the
// current page gets a size at which all of them fit, as large as possible.

export const ASPECT = 16 / 9;
export const MAX_PER_PAGE = 25; // beyond, tiles are too small to recognise anybody

/** The columns, rows and tile size (16:9) that show `count` tiles in width×height largest. */
export function fitGrid(count, width, height, gap) {
  let best = { columns: 1, rows: 1, width: 0, height: 0 };
  for (let columns = 1; columns <= Math.max(1, count); columns += 1) {
    const rows = Math.ceil(count / columns);
    const byWidth = (width - gap * (columns - 1)) / columns;
    const byHeight = ((height - gap * (rows - 1)) / rows) * ASPECT;
    const tileWidth = Math.floor(Math.min(byWidth, byHeight));
    if (tileWidth > best.width) {
      best = { columns, rows, width: tileWidth, height: Math.floor(tileWidth / ASPECT) };
    }
  }
  return best;
}

/** How many tiles fit on one page while each stays at least `minWidth` wide. */
export function pageCapacity(width, height, gap, minWidth) {
  let capacity = 1;
  while (capacity < MAX_PER_PAGE && fitGrid(capacity + 1, width, height, gap).width >= minWidth) {
    capacity += 1;
  }
  return capacity;
}

/** One large tile with a strip of smaller ones under it (screen share, pinned person, speaker). */
export function fitFocus(stripCount, width, height, gap) {
  const stripHeight = stripCount ? Math.max(64, Math.min(144, Math.round(height * 0.18))) : 0;
  const stripWidth = Math.floor(stripHeight * ASPECT);
  const perStrip = stripCount ? Math.max(1, Math.floor((width + gap) / (stripWidth + gap))) : 0;
  const focusHeight = height - (stripCount ? stripHeight + gap : 0);
  const focusWidth = Math.floor(Math.min(width, focusHeight * ASPECT));
  return {
    focus: { width: focusWidth, height: Math.floor(focusWidth / ASPECT) },
    strip: { width: stripWidth, height: stripHeight, perPage: perStrip },
  };
}

/** The items of page `page` (clamped) when `perPage` fit on one; and how many pages there are. */
export function paginate(items, perPage, page) {
  const pages = Math.max(1, Math.ceil(items.length / Math.max(1, perPage)));
  const current = Math.min(Math.max(0, page), pages - 1);
  return { pages, page: current, items: items.slice(current * perPage, (current + 1) * perPage) };
}
