// The header: the set's name, id, backend and tags, elapsed time and ETA, chunks per state,
// the QPU time IBM Quantum reports for the set's jobs, the pending-job limit learned of IBM, and
// the Dask dashboard of a set on Dask.
import { element } from "./dom";
import { type ChunkStore, formatQpuSeconds, STATE_NAMES, usageOf } from "./model";

export const USAGE_TITLE = "QPU time IBM Quantum reports for this set's jobs";
export const DASHBOARD_TEXT = "Dask dashboard";
export const PENDING_LIMIT_TITLE =
  "IBM Quantum refused a job for having too many pending on this account and backend; " +
  "chunks are now sent only into free slots, one per job that ends";

/** The `pending_job_limit` trait in words; null when no limit is learned (0, or missing from an
 * older kernel). */
export function pendingLimitText(limit: unknown): string | null {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit <= 0) {
    return null;
  }
  return `IBM's pending-job limit: ${limit} job${limit === 1 ? "" : "s"} (learned from error 3458)`;
}

/** `link` when it is an http(s) URL (what a Dask scheduler serves), else null: the kernel's
 * value goes into an href, where a javascript: URL would run. */
export function dashboardUrl(link: unknown): string | null {
  if (typeof link !== "string" || link === "") {
    return null;
  }
  try {
    const url = new URL(link);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export type HeaderInfo = {
  name: string;
  jobSetId: string;
  backendName: string;
  tags: readonly string[];
  /** Epoch seconds; 0 when unknown. */
  startedAt: number;
  /** Epoch seconds; 0 while unfinished. */
  finishedAt: number;
  /** The Dask dashboard of the cluster the set runs on; "" (or missing) elsewhere. */
  dashboardLink?: string;
};

export type Header = {
  update(info: HeaderInfo): void;
  updateCounts(store: ChunkStore): void;
  /** The `usage_seconds` trait: shown when it is a number >= 0, hidden otherwise. */
  updateUsage(seconds: unknown): void;
  /** The `pending_job_limit` trait: shown when a limit is learned, hidden otherwise. */
  updatePendingLimit(limit: unknown): void;
  cleanup(): void;
};

/**
 * Seconds left, assuming the chunks still to finish take as long as the finished ones did
 * on average; null when nothing has finished yet (or there is nothing to finish).
 */
export function estimateEta(
  elapsedSeconds: number,
  finished: number,
  total: number,
): number | null {
  if (!Number.isFinite(elapsedSeconds) || elapsedSeconds < 0 || total <= 0 || finished <= 0) {
    return null;
  }
  if (finished >= total) {
    return 0;
  }
  return (elapsedSeconds * (total - finished)) / finished;
}

/** "12s", "3m 05s", "2h 01m 09s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (h > 0) {
    return `${h}h ${pad(m)}m ${pad(rest)}s`;
  }
  if (m > 0) {
    return `${m}m ${pad(rest)}s`;
  }
  return `${rest}s`;
}

export function createHeader(parent: HTMLElement): Header {
  const root = element("div", "qjm-header");
  const titleRow = element("div", "qjm-header-title");
  const name = element("span", "qjm-name");
  const backend = element("span", "qjm-backend");
  const tags = element("span", "qjm-tags");
  const id = element("span", "qjm-id");
  const dashboard = element("a", "qjm-dashboard-link", DASHBOARD_TEXT);
  dashboard.target = "_blank";
  dashboard.rel = "noopener";
  dashboard.hidden = true;
  titleRow.append(name, backend, dashboard, tags, id);

  const timeRow = element("div", "qjm-header-time");
  const elapsed = element("span", "qjm-elapsed");
  const eta = element("span", "qjm-eta");
  const usage = element("span", "qjm-usage");
  usage.setAttribute("title", USAGE_TITLE);
  usage.hidden = true;
  const pendingLimit = element("span", "qjm-pending-limit");
  pendingLimit.setAttribute("title", PENDING_LIMIT_TITLE);
  pendingLimit.hidden = true;
  const counts = element("span", "qjm-counts");
  // One part per state, kept: an update rewrites only the figures that changed (rebuilding
  // them was most of an update's style work in a 20,000-chunk view).
  const countParts = STATE_NAMES.map((state) => {
    const part = element("span", `qjm-count qjm-count-${state}`);
    const figure = document.createTextNode("");
    part.append(element("span", `qjm-swatch qjm-s-${state}`), figure);
    part.hidden = true;
    counts.append(part);
    return { part, figure, shown: 0 };
  });
  timeRow.append(elapsed, eta, usage, pendingLimit, counts);
  root.append(titleRow, timeRow);
  parent.append(root);

  let info: HeaderInfo = {
    name: "",
    jobSetId: "",
    backendName: "",
    tags: [],
    startedAt: 0,
    finishedAt: 0,
  };
  let finished = 0;
  let total = 0;
  let timer: ReturnType<typeof setInterval> | null = null;

  function stopTimer(): void {
    if (timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  function renderTime(): void {
    if (info.startedAt <= 0) {
      elapsed.textContent = "Not started";
      eta.textContent = "";
      return;
    }
    if (info.finishedAt > 0) {
      elapsed.textContent = `Finished in ${formatDuration(info.finishedAt - info.startedAt)}`;
      eta.textContent = "";
      return;
    }
    // The browser's clock against the kernel's: clamp a skew that would make this negative.
    const seconds = Math.max(0, Date.now() / 1000 - info.startedAt);
    elapsed.textContent = `Elapsed ${formatDuration(seconds)}`;
    const left = estimateEta(seconds, finished, total);
    eta.textContent = left === null ? "ETA —" : `ETA ~${formatDuration(left)}`;
  }

  function update(next: HeaderInfo): void {
    info = next;
    name.textContent = info.name || "(unnamed job set)";
    backend.textContent = info.backendName ? `on ${info.backendName}` : "";
    id.textContent = info.jobSetId;
    id.setAttribute("title", "Job set id");
    const link = dashboardUrl(info.dashboardLink);
    dashboard.hidden = link === null;
    if (link === null) {
      dashboard.removeAttribute("href");
      dashboard.removeAttribute("title");
    } else {
      dashboard.href = link;
      dashboard.setAttribute("title", `${link} (opens in a new tab)`);
    }
    tags.replaceChildren(...info.tags.map((tag) => element("span", "qjm-tag", tag)));
    if (info.startedAt > 0 && info.finishedAt <= 0) {
      if (timer === null) {
        timer = setInterval(renderTime, 1000);
      }
    } else {
      stopTimer();
    }
    renderTime();
  }

  function updateCounts(store: ChunkStore): void {
    finished = store.finalCount;
    total = store.size;
    countParts.forEach((slot, code) => {
      const n = store.counts[code] ?? 0;
      if (n !== slot.shown) {
        slot.shown = n;
        slot.part.hidden = n === 0;
        slot.figure.data = n > 0 ? `${STATE_NAMES[code]} ${n}` : "";
      }
    });
    renderTime();
  }

  function updateUsage(seconds: unknown): void {
    const value = usageOf(seconds);
    usage.hidden = value === null;
    usage.textContent = value === null ? "" : `QPU ${formatQpuSeconds(value)}`;
  }

  function updatePendingLimit(limit: unknown): void {
    const text = pendingLimitText(limit);
    pendingLimit.hidden = text === null;
    pendingLimit.textContent = text ?? "";
  }

  return {
    update,
    updateCounts,
    updateUsage,
    updatePendingLimit,
    cleanup(): void {
      stopTimer();
    },
  };
}
