/**
 * Loss-curve pictures (SVG), drawn with Vega-Lite and rendered headlessly by Vega
 * (`new View(..., { renderer: "none" }).toSVG()`): a well-kept plotting library that runs offline in Deno,
 * with axes, legend and scales done properly. Vega is imported when a picture is first drawn, so a
 * program that never plots never downloads or loads it.
 *
 * @module
 */

// The parts of Vega / Vega-Lite used here (the packages load on first use: the specifiers go through a
// variable, because Deno fetches the targets of literal dynamic imports up front, and a program that never
// plots should not download Vega).
interface VegaModule {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, options: { renderer: "none" }) => {
    toSVG(): Promise<string>;
    finalize(): void;
  };
}
interface VegaLiteModule {
  compile(spec: unknown): { spec: unknown };
}
const VEGA = "vega", VEGA_LITE = "vega-lite";

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
  /** Y-axis label, with its unit (default `"loss"`). */
  yLabel?: string;
  /** X-axis label (default `"step"`). */
  xLabel?: string;
  /** Plot width in pixels (default 640). */
  width?: number;
  /** Plot height in pixels (default 320). */
  height?: number;
}

/**
 * Trailing moving average over the last `window` points (fewer at the start), for readable curves of noisy
 * per-batch losses. Returns new points with the same steps.
 * @throws {RangeError} if `window` is not a positive integer.
 */
export function movingAverage(
  points: readonly { step: number; value: number }[],
  window: number,
): { step: number; value: number }[] {
  if (!Number.isInteger(window) || window < 1) {
    throw new RangeError(`window must be an integer >= 1, got ${window}`);
  }
  let sum = 0;
  return points.map((p, i) => {
    sum += p.value;
    if (i >= window) sum -= points[i - window].value;
    return { step: p.step, value: sum / Math.min(i + 1, window) };
  });
}

/**
 * Renders line charts of one or more series to an SVG document string.
 * @throws {RangeError} if there are no finite points at all.
 * @example
 * ```ts
 * import { lossCurveSvg } from "./plot.ts";
 * const svg = await lossCurveSvg([{ name: "train", points: [{ step: 1, value: 2 }, { step: 2, value: 1.5 }] }]);
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export async function lossCurveSvg(series: readonly Series[], options: PlotOptions = {}): Promise<string> {
  const values = series.flatMap((s) =>
    s.points.filter((p) => Number.isFinite(p.value) && Number.isFinite(p.step))
      .map((p) => ({ step: p.step, value: p.value, series: s.name }))
  );
  if (values.length === 0) throw new RangeError("lossCurveSvg: no finite points to plot");
  const [{ parse, View }, { compile }] = await Promise.all([
    import(VEGA) as Promise<VegaModule>,
    import(VEGA_LITE) as Promise<VegaLiteModule>,
  ]);
  const spec = {
    title: options.title,
    width: options.width ?? 640,
    height: options.height ?? 320,
    background: "white",
    data: { values },
    mark: { type: "line", point: values.length <= 60 },
    encoding: {
      x: { field: "step", type: "quantitative", title: options.xLabel ?? "step" },
      y: {
        field: "value",
        type: "quantitative",
        title: options.yLabel ?? "loss",
        scale: { zero: false },
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        sort: series.map((s) => s.name),
        legend: { orient: "top-right", labelLimit: 0 },
      },
    },
  };
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * The usual training picture: the training loss as a trailing mean over `window` steps and the held-out
 * curve, under `title`, with `yLabel` naming the unit (default `"loss (nats)"`).
 */
export function trainingCurvesSvg(
  log: {
    train: readonly { step: number; value: number }[];
    eval: readonly { step: number; value: number }[];
  },
  window: number,
  title: string,
  yLabel = "loss (nats)",
): Promise<string> {
  return lossCurveSvg([
    { name: `train (mean of last ${window} steps)`, points: movingAverage(log.train, window) },
    { name: "held-out", points: log.eval },
  ], { title, yLabel });
}
