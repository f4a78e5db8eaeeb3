/**
 * Renders the task graph for humans and tools: Graphviz DOT, Mermaid, JSON, or a self-contained
 * offline HTML page with an SVG drawing of the DAG.
 *
 * Edges always point from a dependency to its dependent (`dep -> task`), so arrows follow the
 * direction work flows in. The HTML renderer lays the graph out with `@dagrejs/dagre`, which is
 * imported lazily so the text formats never load it.
 *
 * @example
 * ```ts
 * import { renderGraph } from "./graph_format.ts";
 *
 * const dot = await renderGraph("dot", [
 *   { id: "fetch", deps: [] },
 *   { id: "build", deps: ["fetch"], status: "ran", durationMs: 1200 },
 * ]);
 * // digraph kiln { rankdir=LR; ... "fetch" -> "build"; }
 * ```
 *
 * @module
 */

/**
 * One task as the graph renderers see it; a plain snapshot so any caller (planner, last-run
 * report, tests) can build one without depending on the engine's internal types.
 *
 * Dependencies name other nodes by id. A dependency that is not itself in the list is drawn as a
 * placeholder node (id only) after the given nodes, so the picture never silently drops an edge.
 *
 * @example
 * ```ts
 * const node: GraphNode = {
 *   id: "lib:build/core",
 *   description: "Compile the core library",
 *   deps: ["src:fetch"],
 *   status: "cached",
 *   durationMs: 35,
 * };
 * ```
 */
export interface GraphNode {
  /** Task id; may contain letters, digits and `._:/-`. Must be unique within one call. */
  id: string;
  /** Human description, shown as a tooltip (DOT, HTML) and kept in JSON. */
  description?: string;
  /** Ids of the tasks this one depends on; each becomes an edge `dep -> id`. */
  deps: string[];
  /** Outcome of the last run, when known; drives the fill color. */
  status?: "ran" | "cached" | "fresh" | "failed" | "skipped";
  /** Wall time of the last run in milliseconds, when known. */
  durationMs?: number;
}

/**
 * Output formats understood by {@link renderGraph}: `dot` for Graphviz, `mermaid` for Markdown
 * renderers, `json` for tools, `html` for a standalone page that opens offline in any browser.
 */
export type GraphFormat = "dot" | "mermaid" | "json" | "html";

type Status = NonNullable<GraphNode["status"]>;

const STATUSES: readonly Status[] = ["ran", "cached", "fresh", "failed", "skipped"];

interface Swatch {
  fill: string;
  stroke: string;
  meaning: string;
}

const PALETTE: Readonly<Record<Status | "unknown", Swatch>> = {
  ran: { fill: "#cfe2ff", stroke: "#3b6fb6", meaning: "ran" },
  cached: { fill: "#d1f0d8", stroke: "#2e8540", meaning: "cached" },
  fresh: { fill: "#e6e8eb", stroke: "#7a828c", meaning: "fresh (up to date)" },
  failed: { fill: "#f8d0d4", stroke: "#c0392b", meaning: "failed" },
  skipped: { fill: "#ffe8b0", stroke: "#c98a00", meaning: "skipped" },
  unknown: { fill: "#ffffff", stroke: "#5f6670", meaning: "no status" },
};

/**
 * Renders `nodes` as a graph in the requested format; the result ends with a newline.
 *
 * It is async only because the `html` format lazily imports `@dagrejs/dagre` for layout; the
 * other formats resolve without loading it. Node order is preserved in every format, and edges
 * are emitted in node order, then dependency order, so output is stable for diffs and snapshots.
 *
 * Throws a `TypeError` when two nodes share an id, since the drawing would be ambiguous.
 *
 * @example
 * ```ts
 * const nodes: GraphNode[] = [
 *   { id: "a", deps: [] },
 *   { id: "b", deps: ["a"], status: "ran", durationMs: 1200 },
 * ];
 * await renderGraph("mermaid", nodes);
 * // flowchart LR
 * //   ...
 * //   n0["a"]
 * //   n1["b<br/>ran 1.2s"]:::ran
 * //   n0 --> n1
 * ```
 */
export async function renderGraph(format: GraphFormat, nodes: GraphNode[]): Promise<string> {
  const model = buildModel(nodes);
  switch (format) {
    case "dot":
      return renderDot(model);
    case "mermaid":
      return renderMermaid(model);
    case "json":
      return renderJson(model);
    case "html":
      return await renderHtml(model);
    default:
      throw new TypeError(
        `Unknown graph format "${String(format)}"; use one of dot, mermaid, json, html`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// Shared model

interface Edge {
  from: string;
  to: string;
}

interface Model {
  /** Given nodes in order, then placeholders for unknown dependencies in first-seen order. */
  nodes: GraphNode[];
  edges: Edge[];
}

function buildModel(input: readonly GraphNode[]): Model {
  const byId = new Map<string, GraphNode>();
  for (const n of input) {
    if (byId.has(n.id)) {
      throw new TypeError(`Graph node "${n.id}" appears twice; node ids must be unique`);
    }
    byId.set(n.id, n);
  }
  const nodes = [...input];
  const edges: Edge[] = [];
  for (const n of input) {
    for (const dep of new Set(n.deps)) {
      if (!byId.has(dep)) {
        const placeholder: GraphNode = { id: dep, deps: [] };
        byId.set(dep, placeholder);
        nodes.push(placeholder);
      }
      edges.push({ from: dep, to: n.id });
    }
  }
  return { nodes, edges };
}

/** Formats milliseconds compactly: `35ms`, `1.2s`, `2m05s`. */
function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  const whole = Math.round(ms);
  if (whole < 1000) return `${whole}ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const secs = Math.round(ms / 1000);
  return `${Math.floor(secs / 60)}m${String(secs % 60).padStart(2, "0")}s`;
}

/** The second label line, e.g. `ran 1.2s`, or `""` when neither status nor duration is known. */
function statusLine(n: GraphNode): string {
  const parts: string[] = [];
  if (n.status) parts.push(n.status);
  if (n.durationMs !== undefined) {
    const d = formatDuration(n.durationMs);
    if (d) parts.push(d);
  }
  return parts.join(" ");
}

function labelLines(n: GraphNode): string[] {
  const second = statusLine(n);
  return second ? [n.id, second] : [n.id];
}

function swatch(n: GraphNode): Swatch {
  return PALETTE[n.status ?? "unknown"] ?? PALETTE.unknown;
}

// ---------------------------------------------------------------------------------------------
// DOT

/** Quotes a DOT string: backslashes and quotes escaped, line breaks as `\n`. */
function dotString(s: string): string {
  const body = s
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\r\n?|\n/g, "\\n")
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, " ");
  return `"${body}"`;
}

function renderDot({ nodes, edges }: Model): string {
  const out = [
    "digraph kiln {",
    "  rankdir=LR;",
    `  node [shape=box, style="rounded,filled", fontname="Helvetica", fillcolor="${PALETTE.unknown.fill}", color="${PALETTE.unknown.stroke}"];`,
    `  edge [color="#5f6670"];`,
  ];
  for (const n of nodes) {
    const sw = swatch(n);
    // Lines are escaped one by one so the `\n` separator stays a DOT line break.
    const label = `"${labelLines(n).map((l) => dotString(l).slice(1, -1)).join("\\n")}"`;
    const attrs = [`label=${label}`, `fillcolor="${sw.fill}"`, `color="${sw.stroke}"`];
    if (n.description) attrs.push(`tooltip=${dotString(n.description)}`);
    out.push(`  ${dotString(n.id)} [${attrs.join(", ")}];`);
  }
  for (const e of edges) out.push(`  ${dotString(e.from)} -> ${dotString(e.to)};`);
  out.push("}");
  return out.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// Mermaid

/** Escapes text for a quoted Mermaid label using Mermaid's `#name;` / `#code;` entities. */
function mermaidText(s: string): string {
  return s.replace(/[#"<>&\r\n]/g, (c) => {
    switch (c) {
      case "#":
        return "#35;";
      case '"':
        return "#quot;";
      case "<":
        return "#lt;";
      case ">":
        return "#gt;";
      case "&":
        return "#amp;";
      default:
        return " ";
    }
  });
}

function renderMermaid({ nodes, edges }: Model): string {
  const out = ["flowchart LR"];
  for (const s of STATUSES) {
    const sw = PALETTE[s];
    out.push(`  classDef ${s} fill:${sw.fill},stroke:${sw.stroke},color:#1b1f24`);
  }
  const name = new Map<string, string>();
  nodes.forEach((n, i) => name.set(n.id, `n${i}`));
  for (const n of nodes) {
    const label = labelLines(n).map(mermaidText).join("<br/>");
    const cls = n.status ? `:::${n.status}` : "";
    out.push(`  ${name.get(n.id)}["${label}"]${cls}`);
  }
  for (const e of edges) out.push(`  ${name.get(e.from)} --> ${name.get(e.to)}`);
  return out.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// JSON

function renderJson({ nodes, edges }: Model): string {
  const doc = {
    nodes: nodes.map((n) => ({
      id: n.id,
      description: n.description,
      status: n.status,
      durationMs: n.durationMs,
    })),
    edges: edges.map((e) => ({ from: e.from, to: e.to })),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

// ---------------------------------------------------------------------------------------------
// HTML

/** Escapes text for HTML/XML content and double- or single-quoted attributes. */
function xml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => {
    switch (c) {
      case "&":
        return "&amp;";
      case "<":
        return "&lt;";
      case ">":
        return "&gt;";
      case '"':
        return "&quot;";
      default:
        return "&#39;";
    }
  });
}

/** Rounds to one decimal for compact, deterministic SVG coordinates. */
function num(v: number): string {
  return String(Math.round(v * 10) / 10);
}

// Monospace text keeps width estimates honest without a DOM to measure in.
const FONT_SIZE = 12;
const CHAR_WIDTH = FONT_SIZE * 0.62;
const LINE_HEIGHT = 16;
const PAD_X = 12;
const PAD_Y = 8;
const MIN_WIDTH = 64;
const MARGIN = 20;

/** Smooth path through dagre's edge points: straight ends, quadratic curves at the bends. */
function edgePath(points: ReadonlyArray<{ x: number; y: number }>): string {
  if (points.length === 0) return "";
  const [first, ...rest] = points;
  let d = `M${num(first.x)},${num(first.y)}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const p = rest[i];
    const q = rest[i + 1];
    d += ` Q${num(p.x)},${num(p.y)} ${num((p.x + q.x) / 2)},${num((p.y + q.y) / 2)}`;
  }
  const last = rest.at(-1);
  if (last) d += ` L${num(last.x)},${num(last.y)}`;
  return d;
}

async function renderHtml({ nodes, edges }: Model): Promise<string> {
  const mod = await import("@dagrejs/dagre");
  const dagre = mod.default ?? mod;

  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 56, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) {
    const lines = labelLines(n);
    const longest = Math.max(...lines.map((l) => l.length));
    g.setNode(n.id, {
      width: Math.max(MIN_WIDTH, Math.ceil(longest * CHAR_WIDTH) + 2 * PAD_X),
      height: lines.length * LINE_HEIGHT + 2 * PAD_Y,
    });
  }
  for (const e of edges) g.setEdge(e.from, e.to);
  dagre.layout(g);

  const box = g.graph();
  const width = nodes.length > 0 ? Math.ceil(box.width ?? 0) : 200;
  const height = nodes.length > 0 ? Math.ceil(box.height ?? 0) : 60;

  const edgeSvg = edges.map((e) => {
    const d = edgePath(g.edge(e.from, e.to).points ?? []);
    return `<path class="edge" d="${d}" marker-end="url(#kiln-arrow)">` +
      `<title>${xml(`${e.from} → ${e.to}`)}</title></path>`;
  });

  const nodeSvg = nodes.map((n) => {
    const pos = g.node(n.id);
    const sw = swatch(n);
    const x = pos.x - pos.width / 2;
    const y = pos.y - pos.height / 2;
    const lines = labelLines(n);
    const tip = [n.id, statusLine(n), n.description ?? ""].filter(Boolean).join("\n");
    const text = lines.map((l, i) =>
      `<text x="${num(pos.x)}" y="${num(y + PAD_Y + LINE_HEIGHT * (i + 0.5))}"` +
      `${i > 0 ? ' class="sub"' : ""}>${xml(l)}</text>`
    ).join("");
    return `<g class="node" data-id="${xml(n.id)}" data-status="${n.status ?? "unknown"}">` +
      `<title>${xml(tip)}</title>` +
      `<rect x="${num(x)}" y="${num(y)}" width="${num(pos.width)}" height="${num(pos.height)}"` +
      ` rx="6" ry="6" fill="${sw.fill}" stroke="${sw.stroke}"/>` +
      text + `</g>`;
  });

  const legend = [...STATUSES, "unknown" as const].map((s) => {
    const sw = PALETTE[s];
    return `<li><span class="swatch" style="background:${sw.fill};border-color:${sw.stroke}">` +
      `</span>${xml(sw.meaning)}</li>`;
  });

  const counts = `${nodes.length} task${nodes.length === 1 ? "" : "s"}, ` +
    `${edges.length} edge${edges.length === 1 ? "" : "s"}`;
  const empty = nodes.length === 0
    ? `<text x="${width / 2}" y="${height / 2}" class="sub">No tasks</text>`
    : "";

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kiln task graph</title>
<style>
  :root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
  body { margin: 0; background: #f6f7f9; color: #1b1f24; }
  header { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: center; padding: 12px 16px;
    background: #fff; border-bottom: 1px solid #d8dce1; position: sticky; top: 0; }
  h1 { font-size: 16px; margin: 0; }
  .count { color: #5f6670; font-size: 13px; }
  .legend { display: flex; flex-wrap: wrap; gap: 6px 14px; list-style: none; margin: 0; padding: 0;
    font-size: 13px; }
  .legend li { display: flex; align-items: center; gap: 6px; }
  .swatch { display: inline-block; width: 14px; height: 14px; border: 1.5px solid; border-radius: 3px; }
  .zoom { margin-left: auto; display: flex; gap: 4px; }
  .zoom button { font: inherit; font-size: 13px; min-width: 32px; padding: 2px 8px; cursor: pointer; }
  .canvas { overflow: auto; padding: 16px; }
  svg { display: block; background: #fff; border: 1px solid #d8dce1; border-radius: 6px;
    max-width: none; }
  .node text { font: ${FONT_SIZE}px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
    fill: #1b1f24; text-anchor: middle; dominant-baseline: central; }
  .node text.sub { fill: #4a5058; }
  .node rect { stroke-width: 1.5; }
  .node:hover rect { stroke-width: 3; }
  .edge { fill: none; stroke: #8a9199; stroke-width: 1.5; }
  .edge:hover { stroke: #1b1f24; stroke-width: 2.5; }
  #kiln-arrow polygon { fill: #8a9199; }
</style>
</head>
<body>
<header>
<h1>kiln task graph</h1>
<span class="count">${counts}</span>
<ul class="legend" aria-label="Legend">${legend.join("")}</ul>
<div class="zoom" role="group" aria-label="Zoom">
<button type="button" data-zoom="out" title="Zoom out">−</button>
<button type="button" data-zoom="reset" title="Actual size">100%</button>
<button type="button" data-zoom="in" title="Zoom in">+</button>
<button type="button" data-zoom="fit" title="Fit to window">Fit</button>
</div>
</header>
<div class="canvas">
<svg id="kiln-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="kiln task graph: ${counts}">
<defs><marker id="kiln-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><polygon points="0,0 10,5 0,10"/></marker></defs>
<g class="edges">${edgeSvg.join("\n")}</g>
<g class="nodes">${nodeSvg.join("\n")}</g>${empty}
</svg>
</div>
<script>
(() => {
  const svg = document.getElementById("kiln-graph");
  const canvas = svg.parentElement;
  const w = ${width}, h = ${height};
  let scale = 1;
  const apply = () => {
    svg.setAttribute("width", String(Math.round(w * scale)));
    svg.setAttribute("height", String(Math.round(h * scale)));
  };
  const fit = () => {
    const avail = canvas.clientWidth - 34;
    scale = Math.max(0.1, Math.min(4, avail / w));
    apply();
  };
  document.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => {
    const z = b.getAttribute("data-zoom");
    if (z === "in") scale = Math.min(4, scale * 1.25);
    else if (z === "out") scale = Math.max(0.1, scale / 1.25);
    else if (z === "reset") scale = 1;
    if (z === "fit") fit(); else apply();
  }));
  canvas.addEventListener("wheel", (ev) => {
    if (!ev.ctrlKey && !ev.metaKey) return;
    ev.preventDefault();
    scale = Math.max(0.1, Math.min(4, scale * (ev.deltaY < 0 ? 1.1 : 1 / 1.1)));
    apply();
  }, { passive: false });
})();
</script>
</body>
</html>
`;
}
