// The dashboard's model (the traits qjm_widget.dashboard.DashboardTable syncs), the messages
// its view sends, and the formatting of a row's figures.
import type { AnyModel } from "@anywidget/types";

/** One job set as the table shows it (DashboardTable.rows in Python). */
export type Row = {
  id: string;
  name: string;
  backend: string;
  /** When the set was created, in epoch seconds. */
  created: number;
  tags: string[];
  /** running, interrupted (unfinished, run by no live process), done, "<n> failed", cancelled
   * or lost. */
  state: string;
  /** Chunks final, of `chunks`. */
  final: number;
  chunks: number;
  experiments: number;
  /** QPU seconds; negative (-1.0) where the backend reports none. */
  usage: number;
  /** here: run by the kernel's process; elsewhere: by another live process; stored: neither. */
  where: "here" | "elsewhere" | "stored";
  read_only: boolean;
  /** The outcome of the row's last action; "" when none. */
  message: string;
};

export type DashboardModel = {
  /** The page shown, default []. */
  rows: Row[];
  /** Rows changed since the previous update, applied by id; default {seq: 0, rows: []}. */
  updates: { seq: number; rows: Row[] };
  /** Sets matching the filters over all pages; default 0. */
  total: number;
  /** Page shown, from 0; default 0. */
  page: number;
  /** Rows per page; default 50. */
  page_size: number;
  /** Column the rows are ordered by, one of sort_keys; default "created". */
  sort: string;
  /** Order of `sort`; default true. */
  descending: boolean;
  /** Part of the name rows must have; default "". */
  name_filter: string;
  /** Tag rows must carry; default "". */
  tag_filter: string;
  /** Columns the view may sort by (catalog.SORT_KEYS). */
  sort_keys: string[];
  /** Id of the set whose widget is shown under the table; default "". */
  opened: string;
  /** Why the kernel refused the view's last message; default "". */
  message: string;
};

export type DashboardWidgetModel = AnyModel<DashboardModel>;

export type RowAction = "open" | "retry_failed" | "cancel" | "delete";

/** What the view sends to Python; it never sets traits. */
export type DashboardMessage =
  | {
      type: "query";
      name?: string;
      tag?: string;
      sort?: string;
      descending?: boolean;
      page?: number;
    }
  | { type: RowAction; id: string }
  | { type: "close" }
  | { type: "resync" }
  /** A view rendered (shown) or removed: the kernel polls the store only while one shows. */
  | { type: "views"; view: string; shown: boolean };

export type DashboardSend = (message: DashboardMessage) => void;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** True for a row as Python sends it; anything else is left out rather than half drawn. */
export function isRow(value: unknown): value is Row {
  if (!isObject(value)) {
    return false;
  }
  const strings = ["id", "name", "backend", "state", "where", "message"];
  const numbers = ["created", "final", "chunks", "experiments", "usage"];
  return (
    strings.every((key) => typeof value[key] === "string") &&
    numbers.every((key) => typeof value[key] === "number") &&
    Array.isArray(value.tags)
  );
}

export function rowsOf(value: unknown): Row[] {
  return Array.isArray(value) ? value.filter(isRow) : [];
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function formatCreated(seconds: number): string {
  if (!(seconds > 0)) {
    return "";
  }
  // ISO without seconds' fraction: one width for every row, sortable by eye.
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
}

export function formatUsage(seconds: number): string {
  return seconds >= 0 ? `${seconds.toFixed(1)} s` : "";
}

/** The class of a state: running, interrupted, done, failed, cancelled or lost. */
export function stateClass(state: string): string {
  return state.endsWith("failed") ? "failed" : state.replace(/[^a-z]/g, "") || "unknown";
}

/** Columns in the order shown; `sort` is the catalog's key, null where the column has none. */
export const COLUMNS: ReadonlyArray<{ label: string; sort: string | null }> = [
  { label: "Name", sort: "name" },
  { label: "Id", sort: "id" },
  { label: "Backend", sort: "backend" },
  { label: "Created", sort: "created" },
  { label: "State", sort: "state" },
  // By the share of chunks final (ties: more chunks first, descending).
  { label: "Chunks", sort: "chunks" },
  { label: "Experiments", sort: "experiments" },
  { label: "Usage", sort: "usage" },
  { label: "", sort: null },
];
