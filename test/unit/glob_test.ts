import assert from "node:assert/strict";
import { expandGlob, globRegExps, isGlob } from "../../engine/glob.ts";

/** A temp workspace holding `files` (workspace-relative paths; content is the path). */
function tree(files: string[]): string {
  const root = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "kiln_glob_" }));
  for (const f of files) {
    const slash = f.lastIndexOf("/");
    if (slash > 0) Deno.mkdirSync(`${root}/${f.slice(0, slash)}`, { recursive: true });
    Deno.writeTextFileSync(`${root}/${f}`, f);
  }
  return root;
}

function withTree(files: string[], body: (root: string) => void): void {
  const root = tree(files);
  try {
    body(root);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
}

const FILES = [
  "src/a.ts",
  "src/b.ts",
  "src/c.js",
  "src/.hidden.ts",
  "src/lib/d.ts",
  "src/lib/deep/e.ts",
  "src/lib/deep/f.txt",
  "src/.git/g.ts",
  "docs/x1.md",
  "docs/x2.md",
  "docs/x10.md",
  "docs/ya.md",
];

Deno.test("isGlob() is true only for patterns with glob syntax", () => {
  for (const p of ["*.ts", "a?.txt", "[ab].txt", "{a,b}.txt", "src/**"]) assert.ok(isGlob(p), p);
  for (const p of ["src/a.ts", "out/dir", ".hidden", "a-b_c.d"]) assert.ok(!isGlob(p), p);
});

Deno.test("expandGlob() matches files in one folder when the pattern uses *", () => {
  withTree(FILES, (root) => {
    // Not src/lib/d.ts (`*` does not cross `/`), not src/.hidden.ts (dotfile), not src/c.js.
    assert.deepEqual(expandGlob(root, "src/*.ts"), ["src/a.ts", "src/b.ts"]);
  });
});

Deno.test("expandGlob() matches only files, not folders, when * ends the pattern", () => {
  withTree(FILES, (root) => {
    assert.deepEqual(expandGlob(root, "src/*"), ["src/a.ts", "src/b.ts", "src/c.js"]);
  });
});

Deno.test("expandGlob() matches zero and many folders when the pattern uses **", () => {
  withTree(FILES, (root) => {
    assert.deepEqual(expandGlob(root, "src/**/*.ts"), [
      "src/a.ts", // zero folders
      "src/b.ts",
      "src/lib/d.ts", // one
      "src/lib/deep/e.ts", // two
    ]);
    assert.deepEqual(expandGlob(root, "src/**/deep/*"), [
      "src/lib/deep/e.ts",
      "src/lib/deep/f.txt",
    ]);
  });
});

Deno.test("expandGlob() lists every non-hidden file below a folder when ** ends the pattern", () => {
  withTree(FILES, (root) => {
    assert.deepEqual(expandGlob(root, "src/**"), [
      "src/a.ts",
      "src/b.ts",
      "src/c.js",
      "src/lib/d.ts",
      "src/lib/deep/e.ts",
      "src/lib/deep/f.txt",
    ]);
  });
});

Deno.test("expandGlob() matches exactly one character when the pattern uses ?", () => {
  withTree(FILES, (root) => {
    assert.deepEqual(expandGlob(root, "docs/x?.md"), ["docs/x1.md", "docs/x2.md"]);
    assert.deepEqual(expandGlob(root, "docs/x??.md"), ["docs/x10.md"]);
  });
});

Deno.test("expandGlob() matches one listed character when the pattern uses [ab]", () => {
  withTree(["f/a.txt", "f/b.txt", "f/c.txt", "f/ab.txt"], (root) => {
    assert.deepEqual(expandGlob(root, "f/[ab].txt"), ["f/a.txt", "f/b.txt"]);
    assert.deepEqual(expandGlob(root, "f/[!ab].txt"), ["f/c.txt"]);
    assert.deepEqual(expandGlob(root, "f/[a-b]*.txt"), ["f/a.txt", "f/ab.txt", "f/b.txt"]);
  });
});

Deno.test("expandGlob() matches each alternative when the pattern uses {a,b}", () => {
  withTree(FILES, (root) => {
    assert.deepEqual(expandGlob(root, "src/*.{ts,js}"), ["src/a.ts", "src/b.ts", "src/c.js"]);
    assert.deepEqual(expandGlob(root, "{docs/ya.md,src/lib/d.ts}"), [
      "docs/ya.md",
      "src/lib/d.ts",
    ]);
    // Nested braces, and an alternative matching nothing.
    assert.deepEqual(expandGlob(root, "src/{a,{b,zz}}.ts"), ["src/a.ts", "src/b.ts"]);
  });
});

Deno.test("expandGlob() skips dotfiles and dot-folders when * and ** do not start with a dot", () => {
  withTree(FILES, (root) => {
    const all = expandGlob(root, "**/*.ts");
    assert.ok(!all.includes("src/.hidden.ts"), "* must not match a dotfile");
    assert.ok(!all.includes("src/.git/g.ts"), "** must not descend into a dot-folder");
    assert.deepEqual(expandGlob(root, "src/?hidden.ts"), [], "? must not match a leading dot");
  });
});

Deno.test("expandGlob() matches dotfiles when the segment starts with a dot", () => {
  withTree(FILES, (root) => {
    assert.deepEqual(expandGlob(root, "src/.*.ts"), ["src/.hidden.ts"]);
    assert.deepEqual(expandGlob(root, "src/.git/*"), ["src/.git/g.ts"]);
  });
});

Deno.test("expandGlob() returns a literal path unchanged when it does not exist", () => {
  withTree(FILES, (root) => {
    assert.deepEqual(expandGlob(root, "no/such/file.txt"), ["no/such/file.txt"]);
    assert.deepEqual(expandGlob(root, "src/a.ts"), ["src/a.ts"]);
    // A folder is returned as-is too; the caller decides to walk it.
    assert.deepEqual(expandGlob(root, "src/lib"), ["src/lib"]);
  });
});

Deno.test("expandGlob() returns nothing when a glob matches nothing", () => {
  withTree(FILES, (root) => {
    assert.deepEqual(expandGlob(root, "src/*.rs"), []);
    assert.deepEqual(expandGlob(root, "missing/**/*.ts"), []);
  });
});

Deno.test("expandGlob() returns sorted, de-duplicated paths when alternatives overlap", () => {
  withTree(FILES, (root) => {
    // Alternatives listed in reverse order and overlapping: output is still sorted and unique.
    const got = expandGlob(root, "{src/lib/**/*.ts,src/*.ts,src/b.ts,docs/*.md}");
    assert.deepEqual(got, [
      "docs/x1.md",
      "docs/x10.md",
      "docs/x2.md",
      "docs/ya.md",
      "src/a.ts",
      "src/b.ts",
      "src/lib/d.ts",
      "src/lib/deep/e.ts",
    ]);
    assert.deepEqual(got, [...got].sort());
  });
});

Deno.test("globRegExps() matches the paths expandGlob() would list, without walking the tree", () => {
  const m = (pattern: string, path: string) => globRegExps(pattern).some((re) => re.test(path));
  assert.ok(m("src/**/*.{ts,js}", "src/a/b/c.ts"));
  assert.ok(m("src/**/*.{ts,js}", "src/c.js"));
  assert.ok(!m("src/**/*.{ts,js}", "src/c.json"));
  assert.ok(!m("src/*.ts", "src/a/b.ts"), "* stays within a folder");
  assert.ok(!m("src/*", "src/.hidden"), "* does not match a leading dot");
  assert.ok(m("src/.*", "src/.hidden"));
  assert.ok(m("packer/demo/http/ks[0-9].cfg", "packer/demo/http/ks7.cfg"));
  assert.ok(!m("packer/demo/http/ks[!0-9].cfg", "packer/demo/http/ks7.cfg"));
  assert.ok(m("**", "a/b/c"));
});
