// A set on a Dask cluster: the header links to the cluster's dashboard, the details name the
// worker of the chunk shown.
import { afterEach, describe, expect, it } from "vitest";
import { byClass, modelFor, mount } from "./fake-model";
import { DASHBOARD_TEXT, dashboardUrl } from "./header";
import { type ChunkDetail, State } from "./model";

const LINK = "http://127.0.0.1:8787/status";

function detail(overrides: Partial<ChunkDetail> = {}): ChunkDetail {
  return {
    index: 0,
    start: 0,
    end: 9,
    shots: 100,
    state: "running",
    job_id: "qjm-3f2a9c-c0-a1",
    attempts: 1,
    error: null,
    note: null,
    can_cancel: true,
    can_retry: false,
    ...overrides,
  };
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("dashboardUrl", () => {
  it("takes http(s) URLs only", () => {
    expect(dashboardUrl(LINK)).toBe(LINK);
    expect(dashboardUrl("https://dask.example.org/status")).toBe("https://dask.example.org/status");
    for (const bad of ["", "javascript:alert(1)", "data:text/html,x", "not a url", 3, null]) {
      expect(dashboardUrl(bad), String(bad)).toBeNull();
    }
  });
});

describe("the Dask dashboard link", () => {
  it("opens the dashboard in a new tab, as text", () => {
    const { root } = mount(modelFor([State.running], { dashboard_link: LINK }));
    const link = byClass(root, "qjm-dashboard-link") as HTMLAnchorElement;
    expect(link.hidden).toBe(false);
    expect(link.textContent).toBe(DASHBOARD_TEXT);
    expect(link.getAttribute("href")).toBe(LINK);
    expect(link.target).toBe("_blank");
    expect(link.rel).toBe("noopener");
  });

  it("is hidden off Dask, for an older kernel, and for a link that is no http(s) URL", () => {
    for (const overrides of [{ dashboard_link: "" }, {}, { dashboard_link: "javascript:x()" }]) {
      const { root } = mount(modelFor([State.running], overrides));
      const link = byClass(root, "qjm-dashboard-link");
      expect(link.hidden).toBe(true);
      expect(link.hasAttribute("href")).toBe(false);
      document.body.replaceChildren();
    }
  });

  it("follows change:dashboard_link", () => {
    const { model, root } = mount(modelFor([State.running]));
    const link = byClass(root, "qjm-dashboard-link");
    model.update({ dashboard_link: LINK });
    expect(link.hidden).toBe(false);
    model.update({ dashboard_link: "" });
    expect(link.hidden).toBe(true);
  });
});

describe("the worker of a chunk", () => {
  it("is a row of the details on Dask, as text, and no row elsewhere", () => {
    const { model, root } = mount(modelFor([State.running]));
    model.update({ selected_detail: detail({ worker: "tcp://127.0.0.1:40123<b>" }) });
    expect(byClass(root, "qjm-detail-worker").textContent).toBe("tcp://127.0.0.1:40123<b>");
    expect(root.querySelector(".qjm-details b")).toBeNull();
    for (const worker of [null, undefined]) {
      model.update({ selected_detail: detail(worker === null ? { worker } : {}) });
      expect(root.querySelector(".qjm-detail-worker")).toBeNull();
    }
  });
});
