// cinedraft studio: a small single-page UI over the REST API.
// Text from the server (prompts, records) is only ever set with textContent, never as HTML.

const view = document.getElementById("view");
const errorBox = document.getElementById("error");

// ---------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

async function api(path, options = {}) {
  const init = { headers: {}, ...options };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    const error = new Error(sentence(response, body && body.detail));
    error.status = response.status;
    error.body = body;
    throw error;
  }
  return response.json();
}

// An error as a sentence: the server's own line, or the first problem of a request the
// API's validation refused ("aspects.0: String should match pattern ..."), never raw JSON.
function sentence(response, detail) {
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    const first = detail[0];
    const where = (first.loc || []).filter((p) => p !== "body" && p !== "query").join(".");
    return `${where ? `${where}: ` : ""}${String(first.msg).replace(/^Value error, /, "")}`;
  }
  return `the server answered ${response.status} ${response.statusText}`.trim();
}

// Follow a job by Server-Sent Events until it ends; onProgress gets {stage, done, total}.
function follow(job, onProgress) {
  return new Promise((resolve, reject) => {
    const source = new EventSource(`/api/jobs/${job.id}/events`);
    source.addEventListener("progress", (e) => onProgress(JSON.parse(e.data)));
    source.addEventListener("end", (e) => {
      source.close();
      const done = JSON.parse(e.data);
      if (done.state === "done") resolve(done);
      else reject(new Error(`job ${done.state}: ${done.error || ""}`));
    });
    source.onerror = () => { source.close(); reject(new Error("lost the connection to the server")); };
  });
}

function fileUrl(id) { return `/api/assets/${id}/file`; }

// A video with its controls where it is the thing shown; in a tile, without them, so that a
// click picks the tile instead of playing the clip.
function media(asset, controls = true) {
  if ((asset.mime || "").startsWith("video/")) {
    return el("video", { src: fileUrl(asset.id), controls, muted: true, preload: "metadata" });
  }
  return el("img", { src: fileUrl(asset.id), alt: asset.prompt || asset.id });
}

function tile(asset, onClick) {
  return el("button", { class: asset.flagged ? "tile flagged" : "tile", type: "button", "data-id": asset.id,
                        onclick: onClick, title: asset.prompt || asset.id },
    media(asset, false),
    asset.flagged ? el("div", { class: "flag", text: "flagged by the policy" }) : null,
    el("div", { class: "caption", text: asset.prompt || asset.kind }),
    el("div", { class: "caption-id", text: `${asset.id}${asset.favourite ? " ★" : ""}` }));
}

function progressUi() {
  const bar = el("progress", { max: 1, value: 0 });
  const label = el("div", { class: "status", text: "queued" });
  return {
    node: el("div", {}, label, bar),
    update: (p) => { bar.max = p.total || 1; bar.value = p.done; label.textContent = `${p.stage} ${p.done}/${p.total}`; },
    say: (text) => { label.textContent = text; },
    start: (text = "queued") => { bar.max = 1; bar.value = 0; label.textContent = text; },
  };
}

// Run ``task`` with the buttons that start work disabled (no second job by a double click).
async function working(buttons, task) {
  for (const b of buttons) b.disabled = true;
  try { return await task(); } finally { for (const b of buttons) b.disabled = false; }
}

// A prompt that makes variations: {a|b} choices, or a __name__ wildcard file.
const TEMPLATE = /\{.*\|.*\}|__[\w*./-]+__/;

const FIGURES = [
  "sharpness", "tenengrad", "hf_ratio", "edge_width", "blockiness", "noise",
  "chroma_outliers", "speckle", "overshoot",
];

// The models of a ``kind`` the server has (/api/models), the default first (value ""); a
// ``chosen`` one the list lacks (a hub id "More like this" carries) is an option too, or
// the form would send the default in its place.
function modelSelect(choices, kind, defaultName, chosen) {
  const names = choices.models.filter((m) => m.kind === kind)
    .map((m) => [m.name, m.source === "HF cache" ? `${m.name} (HF cache)` : m.name]);
  if (chosen && !names.some(([name]) => name === chosen)) names.unshift([chosen, chosen]);
  return el("label", {}, "Model", el("select", { name: "model" },
    el("option", { value: "", text: `default (${defaultName})`, selected: !chosen }),
    ...names.map(([value, text]) => el("option", { value, text, selected: value === chosen }))));
}

// ---------------------------------------------------------------- views

// Ideate: drafts from a prompt; with ``likeId``, drafts like that image (its model, size, steps,
// guidance, scheduler, negative prompt, LoRAs: what `generate --like` takes), its prompt and
// seed in the form to change.
async function ideate(likeId) {
  const [like, choices, styles] = await Promise.all([
    likeId ? api(`/api/assets/${likeId}/like`) : null, api("/api/models"), api("/api/styles")]);
  const grid = el("div", { class: "grid", id: "drafts" });
  const prog = progressUi();
  const promoteButton = el("button", { type: "button", id: "promote", disabled: true, text: "Promote selected" });
  let selected = null;
  const form = el("form", { class: "bar", id: "ideate" },
    el("label", {}, "Prompt ({red|blue} or a __wildcard__ file makes variations)",
      el("input", { name: "prompt", required: true,
                    value: like ? like.request.prompt : "a {red|blue|green} bottle on a glass table, studio lighting" })),
    el("label", {}, "Variations", el("input", { name: "count", type: "number", min: 1, max: 48, value: like ? 4 : 6 })),
    el("label", {}, "Seed", el("input", { name: "seed", type: "number", min: 0, value: like?.request.seed ?? 1 })),
    el("button", { type: "submit", text: "Draft" }),
    settingsFields(choices, styles, like?.request));
  const draftButton = form.querySelector("button[type=submit]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    working([draftButton, promoteButton], draft).then(() => { promoteButton.disabled = !selected; });
  });
  async function draft() {
    showError("");
    const data = new FormData(form);
    const count = Number(data.get("count"));
    const prompt = data.get("prompt");
    selected = null;
    prog.start();
    try {
      const job = await api("/api/jobs/generate", { json: { ...(like ? like.request : {}), ...settingsOf(data),
        prompt, count, seed: Number(data.get("seed")), tier: "draft", template: TEMPLATE.test(prompt) } });
      grid.replaceChildren();
      const shown = new Set();
      const addTiles = async (ids) => {  // drafts appear as the job stores them
        for (const id of ids) {
          if (shown.has(id)) continue;
          shown.add(id);
          const asset = await api(`/api/assets/${id}`);
          grid.append(tile(asset, (e) => {
            for (const t of grid.querySelectorAll(".tile")) t.classList.remove("selected");
            e.currentTarget.classList.add("selected");
            selected = id;
            promoteButton.disabled = draftButton.disabled;  // not while the drafts still come
          }));
        }
      };
      let pending = Promise.resolve();
      const done = await follow(job, (p) => {
        prog.update(p);
        if (p.outputs) pending = pending.then(() => addTiles(p.outputs));
      });
      await pending;
      await addTiles(done.result.outputs);
      prog.say(`${done.result.outputs.length} drafts in ${done.result.seconds} s`);
    } catch (err) { showError(err.message); prog.say("failed"); }
  }
  promoteButton.addEventListener("click", () => working([draftButton, promoteButton], async () => {
    if (!selected) return;
    showError("");
    prog.start("promoting");
    try {
      const job = await api("/api/jobs/promote", { json: { asset_id: selected } });
      const done = await follow(job, prog.update);
      location.hash = `#/compare/${selected}/${done.result.outputs[0]}`;
    } catch (err) { showError(err.message); prog.say("failed"); }
  }));
  view.replaceChildren(...[el("h1", { text: "Ideate" }), like && likePanel(likeId, like), form,
                          prog.node, grid, el("p", {}, promoteButton)].filter(Boolean));
}

// The model and settings a draft takes besides its prompt, folded away: pickers of what the
// server has (/api/models, /api/styles), filled from ``r`` (a "More like this" request).
// Left empty, a field is the model's own default.
function settingsFields(choices, styles, r = {}) {
  const option = (value, text, chosen) => el("option", { value, text, selected: chosen });
  const number = (name, label, attrs) =>
    el("label", {}, label, el("input", { name, type: "number", value: r[name] ?? "", ...attrs }));
  const loras = el("div", { class: "loras" });
  const addLora = (ref = "", weight = 1) => {
    // an image's LoRA by the name its tag gave ("style" for style.safetensors) is kept as named
    const names = !ref || choices.loras.includes(ref) ? choices.loras : [ref, ...choices.loras];
    const row = el("div", { class: "lora" },
      el("select", { name: "lora", "aria-label": "LoRA" }, option("", "LoRA…", !ref),
        ...names.map((name) => option(name, name, name === ref))),
      el("input", { name: "lora_weight", type: "number", step: 0.05, min: -4, max: 4, value: weight,
                    "aria-label": "LoRA weight" }),
      el("button", { type: "button", class: "link", text: "×", title: "no LoRA", onclick: () => row.remove() }));
    loras.append(row);
  };
  for (const lora of r.loras ?? []) addLora(lora.ref, lora.weight ?? 1);
  return el("details", { id: "settings", open: r.model || r.loras?.length ? true : null },
    el("summary", { text: "Model and settings" }),
    el("div", { class: "bar" },
      modelSelect(choices, "image", choices.default, r.model),
      el("label", {}, "Negative prompt",
        el("input", { name: "negative_prompt", value: r.negative_prompt ?? "", placeholder: "none" })),
      number("width", "Width", { min: 8, step: 8, placeholder: "model's" }),
      number("height", "Height", { min: 8, step: 8, placeholder: "model's" }),
      number("steps", "Steps", { min: 1, max: 500, placeholder: "draft's" }),
      number("guidance", "Guidance", { min: 0, max: 50, step: 0.5, placeholder: "draft's" }),
      el("label", {}, "Sampler", el("select", { name: "scheduler" }, option("", "draft's", !r.scheduler),
        ...choices.schedulers.map((name) => option(name, name, name === r.scheduler)))),
      number("clip_skip", "Clip skip", { min: 1, max: 12, placeholder: "1" })),
    el("div", { class: "bar" }, loras,
      choices.loras.length ? el("button", { type: "button", class: "secondary", text: "+ LoRA", onclick: () => addLora() })
                           : el("span", { class: "status", text: "no LoRAs in the models folder" })),
    styles.length ? el("fieldset", { class: "styles" }, el("legend", { text: "Styles" }),
      ...styles.map((st) => el("label", { class: "inline", title: st.prompt },
        el("input", { type: "checkbox", name: "style", value: st.name }), st.name))) : null);
}

// The settings fields as the generate route takes them (empty: the model's default).
function settingsOf(data) {
  const text = (name) => data.get(name) || null;
  const number = (name) => (data.get(name) ? Number(data.get(name)) : null);
  const weights = data.getAll("lora_weight");
  return {
    model: text("model"), negative_prompt: data.get("negative_prompt") ?? "",
    width: number("width"), height: number("height"), steps: number("steps"),
    guidance: number("guidance"), scheduler: text("scheduler"), clip_skip: number("clip_skip"),
    loras: data.getAll("lora").map((ref, i) => ({ ref, weight: Number(weights[i]) })).filter((l) => l.ref),
    styles: data.getAll("style"),
  };
}

// What drafting like an image keeps of it, and what it could not (one line each).
function likePanel(id, like) {
  const r = like.request;
  const kept = [r.model ?? "default model", r.width ? `${r.width}x${r.height}` : null,
    r.steps ? `${r.steps} steps` : null, r.guidance != null ? `guidance ${r.guidance}` : null,
    r.scheduler, r.clip_skip ? `clip skip ${r.clip_skip}` : null,
    r.negative_prompt ? `negative "${r.negative_prompt}"` : null,
    ...r.loras.map((l) => `LoRA ${l.ref}${l.weight != null ? ` ${l.weight}` : ""}`),
    ...r.embeddings.map((e) => `embedding ${e}`), r.vae ? `VAE ${r.vae}` : null].filter(Boolean);
  return el("div", { id: "like" },
    el("p", {}, "Drafting like ", el("a", { href: `#/asset/${id}`, text: id }), `: ${kept.join(" · ")} `,
      el("a", { href: "#/ideate", text: "(start afresh)" })),
    ...like.notes.map((note) => el("p", { class: "status", text: `note: ${note}` })));
}

async function compare(draftId, finalId) {
  const [draft, final, report] = await Promise.all([
    api(`/api/assets/${draftId}`), api(`/api/assets/${finalId}`),
    api("/api/analyze", { json: { asset_ids: [draftId, finalId] } })]);
  const byId = Object.fromEntries(report.images.images.map((i) => [i.asset_id, i.display]));
  const [w, h] = report.images.display_size;
  const table = el("table", { id: "figures" },
    el("tr", {}, el("th", { text: `at ${w}x${h}` }), el("th", { text: "draft" }), el("th", { text: "production" })),
    FIGURES.map((name) => el("tr", {}, el("td", { text: name }),
      el("td", { text: byId[draftId][name].toPrecision(4) }),
      el("td", { text: byId[finalId][name].toPrecision(4) }))),
    el("tr", {}, el("td", { text: "size" }), el("td", { text: `${draft.width}x${draft.height}` }),
      el("td", { text: `${final.width}x${final.height}` })),
    el("tr", {}, el("td", { text: "drift (SSIM vs draft)" }), el("td", { text: "" }),
      el("td", { text: String(final.record.drift_ssim ?? "") })));
  const verdict = report.images.verdict[0];
  const clearer = verdict.clearer === finalId ? "production" : "draft";
  view.replaceChildren(
    el("h1", { text: "Draft vs production" }),
    el("p", { class: "status", text: draft.prompt }),
    el("div", { class: "compare" },
      el("figure", {}, media(draft), el("figcaption", {}, el("a", { href: `#/asset/${draft.id}`, text: `draft ${draft.id}` }))),
      el("figure", {}, media(final), el("figcaption", {}, el("a", { href: `#/asset/${final.id}`, text: `production ${final.id}` })))),
    el("p", { id: "verdict", text: `The ${clearer} is clearer: ${verdict.sharpness_ratio}x the ${verdict.compared}.` }),
    el("ul", {}, verdict.reasons.map((r) => el("li", { text: r }))),
    el("div", { id: "despite" }, verdict.despite.length ? el("p", { text: "Despite:" }) : null,
      el("ul", {}, verdict.despite.map((r) => el("li", { text: r })))),
    table);
}

async function library() {
  const grid = el("div", { class: "grid", id: "results" });
  const status = el("div", { class: "status" });
  const choices = await api("/api/models");
  const form = el("form", { class: "bar", id: "search" },
    el("label", {}, "Search prompts", el("input", { name: "text", type: "search", placeholder: "glass table" })),
    el("label", {}, "Model", el("input", { name: "model", list: "model-names", placeholder: "any" }),
      el("datalist", { id: "model-names" }, choices.models.map((m) => el("option", { value: m.name })))),
    el("label", {}, "Tier", el("select", { name: "tier" }, ["", "draft", "production"].map((t) => el("option", { value: t, text: t || "any" })))),
    el("label", {}, "Kind", el("select", { name: "kind" }, ["", "image", "edit", "video", "import"].map((t) => el("option", { value: t, text: t || "any" })))),
    el("label", {}, "Sort", el("select", { name: "sort" }, ["newest", "oldest", "rating", "sharpness", "relevance"].map((t) => el("option", { value: t, text: t })))),
    el("label", { class: "inline" }, el("input", { name: "flagged", type: "checkbox", value: "true" }), " flagged only"),
    el("button", { type: "submit", text: "Search" }));
  async function run(event) {
    if (event) event.preventDefault();
    showError("");
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
    if (params.get("sort") === "relevance" && !params.get("text")) params.set("sort", "newest");
    try {
      const assets = await api(`/api/assets?${params}`);
      status.textContent = `${assets.length} asset(s)`;
      grid.replaceChildren(...assets.map((a) => tile(a, () => { location.hash = `#/asset/${a.id}`; })));
    } catch (err) { showError(err.message); }
  }
  form.addEventListener("submit", run);
  const upload = el("form", { class: "bar", id: "upload" },
    el("label", {}, "Import a file (PNG, JPEG, WebP, MP4)", el("input", { name: "file", type: "file", required: true,
      accept: "image/png,image/jpeg,image/webp,image/avif,video/mp4" })),
    el("button", { type: "submit", text: "Upload" }));
  upload.addEventListener("submit", (event) => {
    event.preventDefault();
    showError("");
    working([upload.querySelector("button")], async () => {
      const body = new FormData(upload);
      try {
        const made = await api("/api/uploads", { method: "POST", body });
        location.hash = `#/asset/${made.id}`;
      } catch (err) {
        if (err.status === 409 && err.body && err.body.asset) location.hash = `#/asset/${err.body.asset.id}`;
        else showError(err.message);
      }
    });
  });
  view.replaceChildren(el("h1", { text: "Library" }), form, upload, status, grid);
  await run();
}

async function asset(id) {
  const a = await api(`/api/assets/${id}`);
  const provenance = el("div", { class: "status", id: "provenance", text: "checking provenance…" });
  const links = (items) => items.length
    ? items.map((x) => el("span", {}, el("a", { href: `#/asset/${x.id}`, text: x.id }), ` (${x.role}) `))
    : ["–"];
  view.replaceChildren(
    el("h1", { text: `Asset ${a.id}` }),
    el("div", { class: "asset-media" }, media(a)),
    el("table", {},
      ...[["kind", a.kind], ["tier", a.tier], ["model", a.model], ["prompt", a.prompt], ["created", a.created],
          ["size", a.width ? `${a.width}x${a.height}` : ""],
          ...(a.record.prompt_unread ? [["not read", `past the encoder's window: ${a.record.prompt_unread}`]] : []),
          ["policy", policyText(a.record.policy)]]
        .map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v ?? "" }))),
      el("tr", {}, el("th", { text: "parents" }), el("td", {}, links(a.ancestors))),
      el("tr", {}, el("th", { text: "children" }), el("td", {}, links(a.descendants)))),
    provenance,
    actions(a),
    (a.mime || "").startsWith("image/") ? await threadPanel(a) : null,
    el("h2", { text: "Record" }),
    el("pre", { text: JSON.stringify(a.record, null, 2) }));
  try {
    const v = await api(`/api/assets/${id}/verify`);
    provenance.className = v.ok ? "status ok" : "status bad";
    provenance.textContent = `C2PA: ${v.manifest.state}${v.manifest.signer ? ` · signed by ${v.manifest.signer}` : ""}`
      + ` · watermark: ${v.watermark || v.watermark_note}`;
  } catch (err) { provenance.textContent = err.message; }
}

// What the CLI's `library tag | rate | favourite | export` do, on the asset's page.
function actions(a) {
  const post = (path, json) => api(`/api/assets/${a.id}/${path}`, { json });
  const tags = el("span", { id: "tags" });
  const showTags = (list) => tags.replaceChildren(...list.map((t) => el("span", { class: "tag" }, t,
    el("button", { type: "button", class: "link", title: `remove ${t}`, text: "×",
                   onclick: () => post("tags", { remove: [t] }).then((b) => showTags(b.tags), (e) => showError(e.message)) }))));
  showTags(a.tags);
  const tagForm = el("form", { id: "tag-form" }, el("input", { name: "tag", placeholder: "add a tag", maxlength: 64 }),
    el("button", { type: "submit", text: "Tag" }));
  tagForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const tag = new FormData(tagForm).get("tag").trim();
    if (!tag) return;
    try { showTags((await post("tags", { add: [tag] })).tags); tagForm.reset(); } catch (e) { showError(e.message); }
  });
  const rating = el("select", { name: "rating", id: "rating" },
    [0, 1, 2, 3, 4, 5].map((n) => el("option", { value: n, text: n ? "★".repeat(n) : "no rating", selected: n === a.rating })));
  rating.addEventListener("change", () => post("rating", { rating: Number(rating.value) }).catch((e) => showError(e.message)));
  const favourite = el("button", { type: "button", id: "favourite", "aria-pressed": String(a.favourite) });
  const showFavourite = (on) => { favourite.setAttribute("aria-pressed", String(on)); favourite.textContent = on ? "★ favourite" : "☆ favourite"; };
  showFavourite(a.favourite);
  favourite.addEventListener("click", async () => {
    try { showFavourite((await post("favourite", { on: favourite.getAttribute("aria-pressed") !== "true" })).favourite); }
    catch (e) { showError(e.message); }
  });
  const download = el("a", { href: fileUrl(a.id), download: "", id: "download", text: "download" });
  const exported = el("span", { id: "exported" });
  const exportForm = el("form", { id: "export-form" },
    el("select", { name: "profile" }, ["web", "preview", "lossless"].map((p) => el("option", { value: p, text: p }))),
    el("button", { type: "submit", text: "Export" }));
  exportForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const profile = new FormData(exportForm).get("profile");
    working([exportForm.querySelector("button")], async () => {
      try {
        const copy = await post("export", { profile });
        exported.replaceChildren(el("a", { href: fileUrl(copy.id), download: `${a.id}-${profile}`,
                                           text: `${profile} copy ${copy.id} (${copy.mime})` }));
      } catch (e) { showError(e.message); }
    });
  });
  const image = (a.mime || "").startsWith("image/");
  // made here, or an import that says how it was made (A1111, Forge, ComfyUI)
  const likeable = a.kind === "image" || a.record.made_with?.prompt;
  const moreLike = likeable ? el("a", { href: `#/like/${a.id}`, id: "more-like", text: "More like this" }) : null;
  return el("div", { class: "bar", id: "actions" }, el("label", {}, "Tags ", tags), tagForm,
    el("label", {}, "Rating ", rating), favourite, download, image ? exportForm : null, exported, moreLike);
}

// An image's edit thread: the turns as a conversation, a box for the next change, undo (back
// a turn), a mask painted with the pointer for inpainting, an outpaint button per aspect.
// A change made on a turn that already has later turns starts a branch; nothing is replaced.
async function threadPanel(a) {
  const turns = await api(`/api/assets/${a.id}/thread`);
  const here = turns.find((t) => t.asset_id === a.id) || {};
  const prog = progressUi();
  const starters = () => view.querySelectorAll("#refine button[type=submit], #inpaint button[type=submit], #outpaint button");
  const run = (path, body) => working(starters(), async () => {
    showError("");
    prog.start();
    try {
      const done = await follow(await api(path, { json: body }), prog.update);
      location.hash = `#/asset/${done.result.outputs[0]}`;
    } catch (err) { prog.say(""); showError(err.message); }
  });
  const conversation = el("ol", { class: "thread", id: "thread" }, turns.map((t) => {
    const said = t.operation ? `${t.instruction || t.operation} · ${t.route}` : "original";
    const kept = t.preserved === null || t.preserved === undefined ? "" : ` · kept ${t.preserved.toFixed(3)}`;
    const item = el("li", { class: t.asset_id === a.id ? "turn current" : "turn", "data-id": t.asset_id },
      el("a", { href: `#/asset/${t.asset_id}` }, el("img", { src: fileUrl(t.asset_id), alt: "" })),
      el("span", { text: said + kept }));
    item.style.marginLeft = `${t.depth * 1.5}rem`;  // CSSOM: the CSP allows no inline styles
    return item;
  }));
  const instruction = el("input", { name: "instruction", required: true, placeholder: "warmer · a bit more · crop to 9:16 · make the jar blue" });
  const refine = el("form", { class: "bar", id: "refine" },
    el("label", {}, "What should change", instruction), el("button", { type: "submit", text: "Change" }),
    el("button", { type: "button", class: "secondary", id: "undo", disabled: !here.parent, text: "Undo (back a turn)",
                   onclick: () => { location.hash = `#/asset/${here.parent}`; } }));
  refine.addEventListener("submit", (e) => { e.preventDefault(); run("/api/jobs/refine", { source: a.id, instruction: instruction.value }); });
  const branches = turns.some((t) => t.parent === a.id)
    ? el("div", { class: "status", id: "branch-note", text: "This turn has later turns: a change here starts a branch." }) : null;

  // The mask: painted on a canvas over the image, at the image's own pixel size.
  const base = el("img", { src: fileUrl(a.id), alt: "" });
  const canvas = el("canvas", { id: "mask", width: a.width, height: a.height });
  const pen = canvas.getContext("2d");
  let painting = false;
  const paint = (e) => {
    if (!painting) return;
    const box = canvas.getBoundingClientRect();
    const x = (e.clientX - box.left) * canvas.width / box.width;
    const y = (e.clientY - box.top) * canvas.height / box.height;
    pen.fillStyle = "rgba(245, 166, 35, 0.6)";
    pen.beginPath();
    pen.arc(x, y, Math.max(2, canvas.width / 14), 0, 2 * Math.PI);
    pen.fill();
  };
  canvas.addEventListener("pointerdown", (e) => { painting = true; canvas.setPointerCapture(e.pointerId); paint(e); });
  canvas.addEventListener("pointermove", paint);
  canvas.addEventListener("pointerup", () => { painting = false; });
  const maskUrl = () => {  // white where painted, black elsewhere
    const out = document.createElement("canvas");
    out.width = canvas.width; out.height = canvas.height;
    const pixels = pen.getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < pixels.data.length; i += 4) {
      const v = pixels.data[i + 3] > 0 ? 255 : 0;
      pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = v; pixels.data[i + 3] = 255;
    }
    out.getContext("2d").putImageData(pixels, 0, 0);
    return out.toDataURL("image/png");
  };
  const prompt = el("input", { name: "inpaint-prompt", required: true, value: a.prompt || "" });
  const inpaint = el("form", { class: "bar", id: "inpaint" },
    el("label", {}, "Paint over the part to redraw, then say what it shows", prompt),
    el("button", { type: "submit", text: "Redraw painted part" }),
    el("button", { type: "button", class: "secondary", text: "Clear mask",
                   onclick: () => pen.clearRect(0, 0, canvas.width, canvas.height) }));
  inpaint.addEventListener("submit", (e) => { e.preventDefault(); run("/api/jobs/inpaint", { source: a.id, prompt: prompt.value, mask: maskUrl() }); });
  const outpaint = el("div", { class: "bar", id: "outpaint" }, el("span", { class: "status", text: "Grow the canvas to" }),
    ["1:1", "4:5", "9:16", "16:9"].map((r) => el("button", { type: "button", class: "secondary", "data-aspect": r, text: r,
      onclick: () => run("/api/jobs/outpaint", { source: a.id, aspect: r }) })));
  return el("section", { id: "thread-view" },
    el("h2", { text: turns.length > 1 ? `Thread: ${turns.length - 1} turn(s)` : "Thread" }),
    conversation, refine, branches, el("div", { class: "paint" }, base, canvas), inpaint, outpaint, prog.node);
}

// What the usage policy found in an output's prompt (and its face check), as one line.
function policyText(policy) {
  if (!policy) return "no hits";
  const hits = (policy.hits || []).map((h) => `${h.action} ${h.name}${h.note ? ` (${h.note})` : ""}`);
  if (policy.faces !== undefined) hits.push(`face check: ${policy.faces} found`);
  return `${policy.flagged ? "FLAGGED: " : ""}${hits.join("; ") || "no hits"}`;
}

// The policy in force, read-only: editing it is a change to the team's file, not a click.
async function policyPage() {
  const p = await api("/api/policy");
  const rules = p.rules.map((r) => el("tr", {},
    el("td", { text: r.action }), el("td", { text: r.kind || "" }), el("td", { text: r.names.join(", ") }),
    el("td", { text: r.case }), el("td", { text: r.note || "" }), el("td", { text: String(r.line) })));
  view.replaceChildren(
    el("h1", { text: "Usage policy" }),
    el("p", { class: "status", id: "policy-source", text: `${p.source} · faces ${p.flag_faces ? "flagged" : "not checked"}`
      + (p.allow.length ? ` · allowed: ${p.allow.join(", ")}` : "") }),
    p.rules.length
      ? el("table", { id: "policy-rules" },
          el("tr", {}, ["action", "kind", "names", "case", "note", "line"].map((h) => el("th", { text: h }))), rules)
      : el("p", { text: "No rules: nothing is blocked or flagged." }));
}

// Cut, merge, speed, reframe, mute or grade clips picked from the library (in the order picked, for a
// merge); each operation shows only its own fields, and the form starts afresh after a run.
async function edit() {
  const prog = progressUi();
  const result = el("div", { id: "edit-result", class: "grid" });
  const picker = el("div", { class: "grid", id: "clips" });
  const chosenText = el("p", { class: "status", id: "chosen" });
  const chosen = [];
  const choice = (name, values, label) => el("label", {}, label,
    el("select", { name }, values.map(([value, text]) => el("option", { value, text }))));
  const groups = {
    cut: el("span", { class: "op-fields" },
      el("label", {}, "From (s)", el("input", { name: "start", type: "number", step: "0.01", min: 0 })),
      el("label", {}, "To (s)", el("input", { name: "end", type: "number", step: "0.01", min: 0 }))),
    merge: el("span", { class: "op-fields" }, choice("transition",
      [["", "cut"], ["crossfade:0.5", "crossfade 0.5 s"], ["fade:0.5", "fade 0.5 s"]], "Transition")),
    speed: el("span", { class: "op-fields" }, choice("factor",
      [["2", "2x faster"], ["4", "4x faster"], ["0.5", "half speed"], ["0.25", "quarter speed"]], "Speed")),
    reframe: el("span", { class: "op-fields" }, choice("aspect",
      [["9:16", "9:16 vertical"], ["1:1", "1:1 square"], ["4:5", "4:5 portrait"], ["16:9", "16:9 wide"]], "Aspect")),
    mute: el("span", { class: "op-fields" }),
    grade: el("span", { class: "op-fields" }, el("label", {}, "Change (exact, every frame)",
      el("input", { name: "instruction", placeholder: "a touch warmer · more contrast · black and white" }))),
  };
  const op = el("select", { name: "op" }, Object.keys(groups).map((o) => el("option", { value: o, text: o })));
  const runButton = el("button", { type: "submit", text: "Run" });
  const form = el("form", { class: "bar", id: "edit" }, el("label", {}, "Operation", op),
    Object.values(groups), runButton);
  const showChosen = () => {
    chosenText.textContent = chosen.length
      ? `${op.value === "merge" ? "in this order: " : ""}${chosen.join(", ")}`
      : "Pick a clip below (for a merge, several, in order).";
    for (const t of picker.querySelectorAll(".tile")) t.classList.toggle("selected", chosen.includes(t.dataset.id));
  };
  const pick = (id) => {
    const at = chosen.indexOf(id);
    if (at >= 0) chosen.splice(at, 1);
    else { if (op.value !== "merge") chosen.length = 0; chosen.push(id); }
    showChosen();
  };
  const startAfresh = () => {  // the chosen operation's fields only, at their defaults
    for (const [name, group] of Object.entries(groups)) {
      group.hidden = name !== op.value;
      for (const field of group.querySelectorAll("input, select")) field.value = field.tagName === "SELECT" ? field.options[0].value : "";
    }
    if (op.value !== "merge") chosen.splice(1);
    showChosen();
  };
  const addClip = (a, first = false) => {
    const t = tile(a, () => pick(a.id));
    if (first) picker.prepend(t); else picker.append(t);
  };
  op.addEventListener("change", startAfresh);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showError("");
    if (!chosen.length) { showError("Pick a clip from the library below first."); return; }
    const data = new FormData(form);
    const body = { op: op.value, sources: [...chosen] };
    if (body.op === "cut") {
      if (data.get("start")) body.start = Number(data.get("start"));
      if (data.get("end")) body.end = Number(data.get("end"));
    }
    if (body.op === "merge" && data.get("transition")) body.transition = data.get("transition");
    if (body.op === "speed") body.factor = Number(data.get("factor"));
    if (body.op === "reframe") body.aspect = data.get("aspect");
    if (body.op === "grade") body.instruction = data.get("instruction");
    prog.start();
    working([runButton], async () => {
      try {
        const done = await follow(await api("/api/jobs/edit", { json: body }), prog.update);
        const out = await api(`/api/assets/${done.result.outputs[0]}`);
        result.replaceChildren(tile(out, () => { location.hash = `#/asset/${out.id}`; }));
        prog.say(`${out.record.operation}: ${out.record.frames} frames, ${out.record.edit.method}`);
        addClip(out, true);
        chosen.length = 0;
        startAfresh();
      } catch (err) { showError(err.message); prog.say("failed"); }
    });
  });
  const clips = (await api("/api/assets?limit=200")).filter((a) => (a.mime || "").startsWith("video/"));
  clips.forEach((a) => addClip(a));
  startAfresh();
  view.replaceChildren(el("h1", { text: "Edit clips" }), form, prog.node, result, chosenText,
    clips.length ? picker : el("p", { text: "No clips in the library yet: make one on the Video page." }));
}

// Sampling steps for a clip: empty keeps the model's default (20 on the built-in model); fewer
// draw a rough clip sooner, more a cleaner one (the CLI's --steps).
function stepsInput() {
  return el("label", {}, "Steps", el("input", { name: "steps", type: "number", min: 1, max: 500, placeholder: "model default" }));
}

// Text (or a first frame) to a clip, then extend it; the result plays here as it lands.
async function video(startId) {
  const prog = progressUi();
  const player = el("div", { id: "video-result" });
  const [presets, choices] = await Promise.all([api("/api/presets"), api("/api/models")]);
  const form = el("form", { class: "bar", id: "video" },
    el("label", {}, "Prompt", el("input", { name: "prompt", required: true,
      value: "a red ball on a wooden table, the ball slides right, studio lighting" })),
    modelSelect(choices, "video", choices.video_default),
    el("label", {}, "Preset", el("select", { name: "preset" }, presets.map((p) =>
      el("option", { value: p.name, text: `${p.name} (${p.width}x${p.height}, ${p.fps} fps)` })))),
    el("label", {}, "Seconds", el("input", { name: "seconds", type: "number", step: "0.5", min: 0.5, max: 60, value: 2 })),
    el("label", {}, "First frame (image asset id)", el("input", { name: "image", pattern: "[0-9a-f]{12}", placeholder: "optional" })),
    el("label", {}, "Seed", el("input", { name: "seed", type: "number", min: 0, value: 7 })),
    stepsInput(),
    el("button", { type: "submit", text: "Generate" }));
  const extendForm = el("form", { class: "bar", id: "extend", hidden: true },
    el("label", {}, "What happens next", el("input", { name: "prompt", placeholder: "the ball keeps rolling" })),
    el("label", {}, "Seconds", el("input", { name: "seconds", type: "number", step: "0.5", min: 0.5, max: 20, value: 2 })),
    stepsInput(),
    el("button", { type: "submit", text: "Extend" }));
  let current = null;
  const show = async (id) => {
    current = id;
    const a = await api(`/api/assets/${id}`);
    const seconds = a.record.seconds ?? a.record.duration;
    player.replaceChildren(
      el("video", { id: "player", src: fileUrl(id), controls: true, muted: true, autoplay: true, loop: true, playsinline: true }),
      el("p", { class: "status", id: "video-info", text: `${a.id} · ${a.width}x${a.height}${seconds ? ` · ${Number(seconds).toFixed(2)} s` : ""}` }),
      el("a", { href: `#/asset/${id}`, text: "record and provenance" }));
    extendForm.hidden = false;
  };
  const buttons = () => [...form.querySelectorAll("button"), ...extendForm.querySelectorAll("button")];
  const run = (path, body, verb) => working(buttons(), async () => {
    showError("");
    try {
      prog.start();
      const done = await follow(await api(path, { json: body }), prog.update);
      await show(done.result.outputs[0]);
      prog.say(`${verb}: a ${Number(done.result.duration).toFixed(2)} s clip`);
    } catch (err) { showError(err.message); prog.say("failed"); }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { prompt: data.get("prompt"), preset: data.get("preset"),
                   seconds: Number(data.get("seconds")), seed: Number(data.get("seed")) };
    if (data.get("image")) body.image = data.get("image");
    if (data.get("steps")) body.steps = Number(data.get("steps"));
    if (data.get("model")) body.model = data.get("model");
    run("/api/jobs/video", body, "generated");
  });
  extendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(extendForm);
    const body = { source: current, seconds: Number(data.get("seconds")), prompt: data.get("prompt") || "" };
    if (data.get("steps")) body.steps = Number(data.get("steps"));
    run("/api/jobs/extend", body, "extended");
  });
  view.replaceChildren(el("h1", { text: "Video" }), form, prog.node, player, extendForm);
  if (startId) await show(startId);
}

// The queue: each job's outputs as links, Cancel while it is queued or running, and the
// table refreshed every 2 s while this page is open (``onLeave`` stops it).
async function jobs() {
  const table = el("table", { id: "jobs" });
  const live = el("input", { type: "checkbox", id: "live", checked: true });
  const header = el("tr", {}, ["job", "kind", "by", "state", "worker", "created", "outputs / error", ""].map((h) => el("th", { text: h })));
  const cancel = (j) => el("button", { type: "button", class: "cancel", text: "Cancel", onclick: async (event) => {
    event.currentTarget.disabled = true;
    try { await api(`/api/jobs/${j.id}/cancel`, { method: "POST" }); await refresh(); } catch (err) { showError(err.message); }
  } });
  const row = (j) => el("tr", { "data-job": j.id },
    el("td", { text: j.id }), el("td", { text: j.kind }), el("td", { text: j.actor || "" }),
    el("td", { class: `state ${j.state}`, text: j.state }), el("td", { text: j.worker || "" }), el("td", { text: j.created }),
    el("td", {}, j.error ? j.error : el("div", { class: "outputs" },
      ((j.result && j.result.outputs) || []).map((id) => el("a", { href: `#/asset/${id}`, text: id })))),
    el("td", {}, ["queued", "running"].includes(j.state) ? cancel(j) : null));
  async function refresh() {
    const list = await api("/api/jobs?limit=50");
    table.replaceChildren(header, ...list.map(row));
  }
  await refresh();
  const timer = setInterval(() => { if (live.checked) refresh().catch((err) => showError(err.message)); }, 2000);
  onLeave = () => clearInterval(timer);
  view.replaceChildren(el("h1", { text: "Jobs" }), el("label", { class: "inline" }, live, " refresh every 2 s"), table);
}

// A SKU's final images, once each: the hero is also the aspect it was drawn at.
function finals(files) {
  const seen = new Set();
  return files.filter((f) => (f.role === "hero" || f.role === "aspect") && !seen.has(f.asset_id) && seen.add(f.asset_id));
}

async function catalogue(jobId) {
  const choices = await api("/api/models");
  const prog = el("table", { id: "catalogue-progress" });
  const results = el("div", { id: "catalogue-results" });
  const bars = new Map();  // stage (a SKU, or "catalogue" overall) -> its <progress>
  const onProgress = (p) => {
    if (!bars.has(p.stage)) {
      const bar = el("progress", { max: 1, value: 0 });
      const label = el("td", { class: "status" });
      bars.set(p.stage, { bar, label });
      prog.append(el("tr", { "data-sku": p.stage }, el("th", { text: p.stage }), el("td", {}, bar), label));
    }
    const { bar, label } = bars.get(p.stage);
    bar.max = p.total || 1;
    bar.value = p.done;
    label.textContent = `${p.done}/${p.total}`;
  };
  const showResults = (job) => {
    const r = job.result || {};
    results.replaceChildren(...[
      (r.failed || []).length ? el("ul", { class: "failed" }, r.failed.map((f) => el("li", { text: f }))) : null,
      ...(r.skus || []).map((sku) => el("section", { class: "sku", "data-sku": sku.sku },
        el("h2", { text: sku.problem ? `${sku.sku}: ${sku.problem}` : sku.sku }),
        el("div", { class: "grid" }, finals(sku.files).map((f) =>
          el("a", { class: "tile", href: `#/asset/${f.asset_id}`, title: f.file },
            el("img", { src: fileUrl(f.asset_id), alt: `${sku.sku} ${f.aspect}` }),
            el("div", { class: "caption", text: `${f.aspect} · ${f.width}x${f.height}` +
              (f.product_ssim != null ? ` · product kept ${Number(f.product_ssim).toFixed(3)}` : "") })))))),
    ].filter(Boolean));
  };
  const run = async (job) => {
    try {
      showResults(await follow(job, onProgress));
    } catch (err) {
      showError(err.message);
      const ended = await api(`/api/jobs/${job.id}`);
      if (ended.result) showResults(ended);
    }
  };
  const form = el("form", { class: "bar", id: "catalogue" },
    el("label", {}, "Product list (CSV or JSONL)", el("input", { name: "sheet", type: "file", accept: ".csv,.jsonl", required: true })),
    el("label", {}, "Packshots", el("input", { name: "packshots", type: "file", accept: "image/*", multiple: true })),
    el("label", {}, "Brand kit (TOML)", el("textarea", { name: "brand", rows: 3, placeholder: 'palette = ["#8b5a2b"]' })),
    el("label", {}, "Drafts per SKU", el("input", { name: "scenes", type: "number", min: 1, max: 16, value: 3 })),
    el("label", {}, "Aspects", el("input", { name: "aspects", value: "1:1,4:5,9:16,16:9,1.91:1" })),
    modelSelect(choices, "image", choices.default),
    el("button", { type: "submit", text: "Run catalogue" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    working([form.querySelector("button[type=submit]")], runCatalogue);
  });
  async function runCatalogue() {
    showError("");
    const data = new FormData(form);
    const list = data.get("sheet");
    try {
      const packshots = {};
      for (const file of data.getAll("packshots")) {
        if (!file.name) continue;
        const upload = new FormData();
        upload.append("file", file);
        try {
          packshots[file.name] = (await api("/api/uploads", { method: "POST", body: upload })).id;
        } catch (err) {
          // 409: the same bytes uploaded before (a catalogue run again, to resume): that asset
          if (err.status !== 409 || !err.body || !err.body.asset) throw err;
          packshots[file.name] = err.body.asset.id;
        }
      }
      const body = { sheet: await list.text(), format: list.name.endsWith(".jsonl") ? "jsonl" : "csv", packshots,
                     scenes: Number(data.get("scenes")),
                     aspects: String(data.get("aspects")).split(",").map((a) => a.trim()).filter(Boolean) };
      if (String(data.get("brand")).trim()) body.brand = data.get("brand");
      if (data.get("model")) body.model = data.get("model");
      const job = await api("/api/jobs/catalogue", { json: body });
      history.replaceState(null, "", `#/catalogue/${job.id}`);
      prog.replaceChildren();
      results.replaceChildren();  // the last run's images go: these will be this run's
      bars.clear();
      await run(job);
    } catch (err) { showError(err.message); }
  }
  const recent = (await api("/api/jobs?limit=200")).filter((j) => j.kind === "catalogue").slice(0, 10);
  view.replaceChildren(...[el("h1", { text: "Catalogue" }), form, prog, results,
    recent.length ? el("p", { class: "status" }, "Recent: ",
      recent.map((j) => el("a", { href: `#/catalogue/${j.id}`, text: `${j.id} (${j.state}) ` }))) : null].filter(Boolean));
  if (jobId) {
    const job = await api(`/api/jobs/${jobId}`);
    if (job.state === "done" || job.state === "failed" || job.state === "cancelled") showResults(job);
    else await run(job);
  }
}

// ---------------------------------------------------------------- router

let onLeave = null;  // the shown view's clean-up (a timer), run when another replaces it

async function route() {
  if (onLeave) { onLeave(); onLeave = null; }
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === ({ "": "ideate", like: "ideate" }[parts[0]] ?? parts[0]));
  showError("");
  try {
    if (parts[0] === "library") await library();
    else if (parts[0] === "asset") await asset(parts[1]);
    else if (parts[0] === "compare") await compare(parts[1], parts[2]);
    else if (parts[0] === "edit") await edit();
    else if (parts[0] === "video") await video(parts[1]);
    else if (parts[0] === "jobs") await jobs();
    else if (parts[0] === "catalogue") await catalogue(parts[1]);
    else if (parts[0] === "policy") await policyPage();
    else if (parts[0] === "like") await ideate(parts[1]);
    else await ideate();
  } catch (err) { showError(err.message); }
  view.focus();
}

window.addEventListener("hashchange", route);
route();
