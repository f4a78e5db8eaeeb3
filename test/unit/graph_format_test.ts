import assert from "node:assert/strict";
import { type GraphNode, renderGraph } from "../../cli/graph_format.ts";

const DESCRIPTION = `Compile "core" when size < 10 & > 2`;

/** A diamond: src:fetch -> {lib:build/core, lib/ui} -> app.bundle-1. */
function diamond(): GraphNode[] {
  return [
    { id: "src:fetch", description: "Fetch sources", deps: [], status: "fresh", durationMs: 35 },
    {
      id: "lib:build/core",
      description: DESCRIPTION,
      deps: ["src:fetch"],
      status: "ran",
      durationMs: 1200,
    },
    { id: "lib/ui", deps: ["src:fetch"], status: "failed" },
    { id: "app.bundle-1", deps: ["lib:build/core", "lib/ui"] },
  ];
}

const DIAMOND_EDGES = [
  ["src:fetch", "lib:build/core"],
  ["src:fetch", "lib/ui"],
  ["lib:build/core", "app.bundle-1"],
  ["lib/ui", "app.bundle-1"],
];

function count(haystack: string, needle: string | RegExp): number {
  if (typeof needle === "string") return haystack.split(needle).length - 1;
  return [...haystack.matchAll(new RegExp(needle.source, needle.flags + "g"))].length;
}

// ---------------------------------------------------------------------------------------------
// A small DOT parser, enough to prove the output is structurally valid without Graphviz.

type Token = { kind: "id" | "punct"; value: string };

function tokenizeDot(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let value = "";
      i++;
      while (src[i] !== '"') {
        if (i >= src.length) throw new Error("unterminated DOT string");
        if (src[i] === "\n") throw new Error("raw newline inside DOT string");
        if (src[i] === "\\") {
          const next = src[i + 1];
          value += next === '"' ? '"' : `\\${next}`;
          i += 2;
        } else {
          value += src[i++];
        }
      }
      i++;
      tokens.push({ kind: "id", value });
    } else if (src.startsWith("->", i)) {
      tokens.push({ kind: "punct", value: "->" });
      i += 2;
    } else if ("{}[];,=".includes(c)) {
      tokens.push({ kind: "punct", value: c });
      i++;
    } else {
      const m = /^[A-Za-z_0-9.]+/.exec(src.slice(i));
      if (!m) throw new Error(`unexpected DOT character ${JSON.stringify(c)} at ${i}`);
      tokens.push({ kind: "id", value: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

interface ParsedDot {
  graphAttrs: Map<string, string>;
  nodes: Map<string, Map<string, string>>;
  edges: string[][];
}

function parseDot(src: string): ParsedDot {
  const t = tokenizeDot(src);
  let p = 0;
  const peek = () => t[p];
  const expect = (kind: Token["kind"], value?: string): string => {
    const tok = t[p++];
    assert.ok(tok, `expected ${value ?? kind} but reached end`);
    assert.equal(tok.kind, kind, `expected ${kind} at token ${p - 1}, got ${tok.value}`);
    if (value !== undefined) assert.equal(tok.value, value);
    return tok.value;
  };
  const attrList = (): Map<string, string> => {
    const attrs = new Map<string, string>();
    expect("punct", "[");
    while (peek()?.value !== "]") {
      const k = expect("id");
      expect("punct", "=");
      attrs.set(k, expect("id"));
      if (peek()?.value === ",") p++;
    }
    expect("punct", "]");
    return attrs;
  };
  const out: ParsedDot = { graphAttrs: new Map(), nodes: new Map(), edges: [] };
  expect("id", "digraph");
  if (peek()?.kind === "id") p++;
  expect("punct", "{");
  while (peek()?.value !== "}") {
    const first = expect("id");
    if (peek()?.value === "=") {
      p++;
      out.graphAttrs.set(first, expect("id"));
    } else if (peek()?.value === "->") {
      p++;
      out.edges.push([first, expect("id")]);
      if (peek()?.value === "[") attrList();
    } else if (first === "node" || first === "edge") {
      attrList();
    } else {
      out.nodes.set(first, peek()?.value === "[" ? attrList() : new Map());
    }
    expect("punct", ";");
  }
  expect("punct", "}");
  assert.equal(p, t.length, "trailing tokens after the graph");
  return out;
}

async function hasGraphviz(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("which", { args: ["dot"], stdout: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// DOT

Deno.test("renderGraph() emits a structurally valid quoted digraph when ids contain ':' and '/'", async () => {
  const dot = await renderGraph("dot", diamond());
  assert.match(dot, /^digraph kiln \{\n {2}rankdir=LR;\n/);
  assert.ok(dot.endsWith("}\n"));

  const parsed = parseDot(dot);
  assert.equal(parsed.graphAttrs.get("rankdir"), "LR");
  assert.deepEqual([...parsed.nodes.keys()], diamond().map((n) => n.id));
  assert.deepEqual(parsed.edges, DIAMOND_EDGES);
  for (const [from, to] of DIAMOND_EDGES) assert.ok(dot.includes(`"${from}" -> "${to}";`));
});

Deno.test("renderGraph() labels DOT nodes with status and duration when they are known", async () => {
  const parsed = parseDot(await renderGraph("dot", diamond()));
  const core = parsed.nodes.get("lib:build/core");
  assert.equal(core?.get("label"), "lib:build/core\\nran 1.2s");
  assert.equal(core?.get("tooltip"), DESCRIPTION);
  assert.equal(parsed.nodes.get("src:fetch")?.get("label"), "src:fetch\\nfresh 35ms");
  assert.equal(parsed.nodes.get("lib/ui")?.get("label"), "lib/ui\\nfailed");
  assert.equal(parsed.nodes.get("app.bundle-1")?.get("label"), "app.bundle-1");
});

Deno.test("renderGraph() fills DOT nodes by status when statuses differ", async () => {
  const parsed = parseDot(await renderGraph("dot", diamond()));
  const fills = diamond().map((n) => parsed.nodes.get(n.id)?.get("fillcolor"));
  assert.equal(new Set(fills).size, 4, `expected distinct fills, got ${fills}`);
  assert.equal(parsed.nodes.get("app.bundle-1")?.get("fillcolor"), "#ffffff");
});

Deno.test("renderGraph() escapes DOT quotes and backslashes when a description contains them", async () => {
  const dot = await renderGraph("dot", [
    { id: "a", description: 'say "hi" \\ bye\nnext line', deps: [] },
  ]);
  assert.ok(dot.includes(`tooltip="say \\"hi\\" \\\\ bye\\nnext line"`), dot);
  parseDot(dot);
});

Deno.test({
  name: "renderGraph() produces DOT that Graphviz accepts when `dot` is installed",
  ignore: !(await hasGraphviz()),
  fn: async () => {
    const child = new Deno.Command("dot", { args: ["-Tsvg"], stdin: "piped", stdout: "piped" })
      .spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(await renderGraph("dot", diamond())));
    await writer.close();
    const { success, stdout } = await child.output();
    assert.ok(success, "dot rejected the graph");
    assert.match(new TextDecoder().decode(stdout), /<svg/);
  },
});

// ---------------------------------------------------------------------------------------------
// Mermaid

Deno.test("renderGraph() emits Mermaid edges between generated names when ids contain ':' and '/'", async () => {
  const mmd = await renderGraph("mermaid", diamond());
  const lines = mmd.trimEnd().split("\n");
  assert.equal(lines[0], "flowchart LR");
  for (const s of ["ran", "cached", "fresh", "failed", "skipped"]) {
    assert.ok(lines.some((l) => l.startsWith(`  classDef ${s} fill:`)), `classDef ${s}`);
  }
  assert.ok(lines.includes(`  n0["src:fetch<br/>fresh 35ms"]:::fresh`));
  assert.ok(lines.includes(`  n1["lib:build/core<br/>ran 1.2s"]:::ran`));
  assert.ok(lines.includes(`  n2["lib/ui<br/>failed"]:::failed`));
  assert.ok(lines.includes(`  n3["app.bundle-1"]`));
  const edges = lines.filter((l) => l.includes("-->")).map((l) => l.trim());
  assert.deepEqual(edges, ["n0 --> n1", "n0 --> n2", "n1 --> n3", "n2 --> n3"]);
});

Deno.test("renderGraph() escapes Mermaid labels when an id contains quotes and angle brackets", async () => {
  const mmd = await renderGraph("mermaid", [{ id: `odd"id<x>#1`, deps: [] }]);
  assert.ok(mmd.includes(`  n0["odd#quot;id#lt;x#gt;#35;1"]\n`), mmd);
});

// ---------------------------------------------------------------------------------------------
// JSON

Deno.test("renderGraph() round-trips nodes and edges through JSON in the given order", async () => {
  const json = await renderGraph("json", diamond());
  assert.ok(json.startsWith('{\n  "nodes": ['), "pretty-printed");
  const doc = JSON.parse(json);
  assert.deepEqual(
    doc.nodes,
    diamond().map(({ id, description, status, durationMs }) =>
      JSON.parse(JSON.stringify({ id, description, status, durationMs }))
    ),
  );
  assert.equal(doc.nodes[1].description, DESCRIPTION);
  assert.deepEqual(doc.edges, DIAMOND_EDGES.map(([from, to]) => ({ from, to })));
});

Deno.test("renderGraph() adds a placeholder node when a dependency is not in the list", async () => {
  const doc = JSON.parse(await renderGraph("json", [{ id: "b", deps: ["a", "a"] }]));
  assert.deepEqual(doc.nodes, [{ id: "b" }, { id: "a" }]);
  assert.deepEqual(doc.edges, [{ from: "a", to: "b" }]);
});

Deno.test("renderGraph() throws when two nodes share an id", async () => {
  await assert.rejects(
    renderGraph("json", [{ id: "a", deps: [] }, { id: "a", deps: [] }]),
    TypeError,
  );
});

// ---------------------------------------------------------------------------------------------
// HTML

/** Checks that every tag inside the SVG is closed in order (a cheap well-formedness test). */
function assertBalancedTags(markup: string): void {
  const stack: string[] = [];
  for (const m of markup.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) assert.equal(stack.pop(), name, `mismatched </${name}>`);
    else stack.push(name);
  }
  assert.deepEqual(stack, [], "unclosed tags");
}

Deno.test("renderGraph() draws one node group, rect and path per node and edge when rendering HTML", async () => {
  const html = await renderGraph("html", diamond());
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<title>kiln task graph<\/title>/);
  const svg = html.slice(html.indexOf("<svg"), html.indexOf("</svg>") + "</svg>".length);
  assert.ok(svg.startsWith("<svg") && svg.endsWith("</svg>"), "inline <svg> present");
  assert.match(svg, /viewBox="0 0 \d+ \d+"/);
  assertBalancedTags(svg);

  assert.equal(count(svg, '<g class="node"'), 4);
  assert.equal(count(svg, "<rect"), 4);
  assert.equal(count(svg, "<path"), DIAMOND_EDGES.length);
  assert.equal(count(svg, 'marker-end="url(#kiln-arrow)"'), DIAMOND_EDGES.length);
  for (const d of svg.matchAll(/<path class="edge" d="([^"]+)"/g)) {
    assert.match(d[1], /^M[-\d.]+,[-\d.]+( [QL][-\d., ]+)+$/);
  }
  for (const id of ["src:fetch", "lib:build/core", "lib/ui", "app.bundle-1"]) {
    assert.ok(svg.includes(`data-id="${id}"`), id);
  }
});

Deno.test("renderGraph() colors HTML nodes by status and formats durations when rendering HTML", async () => {
  const html = await renderGraph("html", diamond());
  const rectFill = (id: string) =>
    new RegExp(`data-id="${id}"[^]*?<rect [^>]*fill="(#[0-9a-f]{6})"`).exec(html)?.[1];
  const fills = ["src:fetch", "lib:build/core", "lib/ui", "app.bundle-1"].map(rectFill);
  assert.equal(new Set(fills).size, 4, `distinct fills: ${fills}`);
  assert.equal(rectFill("app.bundle-1"), "#ffffff");
  assert.ok(html.includes(">ran 1.2s</text>"));
  assert.ok(html.includes(">fresh 35ms</text>"));
  assert.match(html, /class="legend"/);
  for (const s of ["ran", "cached", "fresh", "failed", "skipped"]) assert.ok(html.includes(s));
});

Deno.test("renderGraph() makes no network references when rendering HTML", async () => {
  const html = await renderGraph("html", diamond());
  const urls = [...html.matchAll(/https?:\/\/[^\s"'<>]*/g)].map((m) => m[0]);
  assert.deepEqual(urls, ["http://www.w3.org/2000/svg"]);
  assert.match(html, /xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.doesNotMatch(html, /<script[^>]*\ssrc=/i);
  assert.doesNotMatch(html, /<link\b/i);
  assert.doesNotMatch(html, /@import|url\((?!#)/i);
});

Deno.test("renderGraph() escapes descriptions into tooltips when rendering HTML", async () => {
  const html = await renderGraph("html", diamond());
  assert.ok(
    html.includes(
      "<title>lib:build/core\nran 1.2s\nCompile &quot;core&quot; when size &lt; 10 &amp; &gt; 2</title>",
    ),
  );
  assert.ok(!html.includes(DESCRIPTION), "raw description leaked");
});

Deno.test("renderGraph() renders a valid page when there are no nodes", async () => {
  const html = await renderGraph("html", []);
  assert.match(html, /viewBox="0 0 200 60"/);
  assert.ok(html.includes("No tasks"));
  assert.equal(count(html, "<rect"), 0);
});
