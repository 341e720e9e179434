/**
 * Loss-curve pictures (SVG) for the example scripts, drawn with Vega-Lite and rendered headlessly by Vega
 * (`new View(..., { renderer: "none" }).toSVG()`): a well-kept plotting library that runs offline in Deno,
 * with axes, legend and scales done properly, instead of a hand-made chart.
 *
 * @module
 */

import { type TopLevelSpec, vegaLiteCompile, vegaParse, VegaView } from "./deps.ts";

/** One curve: a name for the legend and its points. */
export interface Series {
  /** Legend label, e.g. `"train (C3A)"`. */
  name: string;
  /** Points `(step, value)`; non-finite values are dropped. */
  points: readonly { step: number; value: number }[];
}

/** Options for {@linkcode lossCurveSvg}. */
export interface PlotOptions {
  /** Title above the chart. */
  title?: string;
  /** Y-axis label. Default `"loss"`. */
  yLabel?: string;
  /** X-axis label. Default `"step"`. */
  xLabel?: string;
  /** Plot width in pixels (default 640). */
  width?: number;
  /** Plot height in pixels (default 320). */
  height?: number;
}

/**
 * Renders line charts of one or more series to an SVG document string.
 * @throws {RangeError} if there are no finite points at all.
 */
export async function lossCurveSvg(series: readonly Series[], options: PlotOptions = {}): Promise<string> {
  const values = series.flatMap((s) =>
    s.points.filter((p) => Number.isFinite(p.value) && Number.isFinite(p.step))
      .map((p) => ({ step: p.step, value: p.value, series: s.name }))
  );
  if (values.length === 0) throw new RangeError("lossCurveSvg: no finite points to plot");
  const spec: TopLevelSpec = {
    title: options.title,
    width: options.width ?? 640,
    height: options.height ?? 320,
    background: "white",
    data: { values },
    mark: { type: "line", point: values.length <= 60 },
    encoding: {
      x: { field: "step", type: "quantitative", title: options.xLabel ?? "step" },
      y: { field: "value", type: "quantitative", title: options.yLabel ?? "loss", scale: { zero: false } },
      color: { field: "series", type: "nominal", title: null, sort: series.map((s) => s.name) },
    },
  };
  const view = new VegaView(vegaParse(vegaLiteCompile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
