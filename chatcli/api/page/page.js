/* chat serve's page: the threads, a live answer and the inbox, over serve's own API (docs/serve.md), no framework.

Everything a model, a tool, a server or an imported thread wrote becomes DOM text nodes (textContent), never markup:
an answer's Markdown comes read by serve (chatcli.content.markdown, as the terminal draws it) and only becomes
elements here; links are made only for http(s) addresses; control characters (a terminal's escape sequences) are
shown as visible symbols (ESC as ␛), as chat shows them in a terminal (chatcli.text.neutralise).

What tests drive (stable ids, data- attributes, accessible names):
  #threads-button "Threads"       opens #threads (on a phone; beside the thread from 900px on)
  #thread-search "Search threads" filters #thread-list by title; each row: li > button[data-thread-id][aria-current];
                                  threads whose text matches follow, button[data-hit] (their match in .row-meta)
  #new-thread "New thread"        an empty thread; the first question names it
  #thread-title                   the open thread's title
  #messages (role=log)            .message[data-role=user|assistant|tool]; the answer being written has [data-live];
                                  its Markdown in .answer; code blocks .code > pre[data-lang] with
                                  button[data-action=copy] "Copy code"; thinking details[data-kind=thinking]
                                  (a graph's subgraphs, live: details[data-kind=subgraph]);
                                  tool calls details[data-kind=tool-call][data-call-id][data-status], their result
                                  [data-kind=tool-result]; a stopped answer .interrupted; a failure .error
  #question "Question"            Enter sends, Shift-Enter is a new line (on a touch screen alone Enter is a new
                                  line and #send sends), Esc stops the answer being written
  #attach "Attach files"          input[type=file][multiple]; #attached lists them, each with "Remove NAME"
  #send "Send", #stop "Stop"      #stop shows while an answer is written
  #retry, #undo                   button[data-command]: the commands route; #tree-button opens #tree
  #background                     asks the question as a background reply (the bg command)
  #tree                           #tree-list: li > button[data-node][data-current]; #node-view shows one node with
                                  button[data-action=goto] "Go to this answer" and button[data-action=at] "Ask from here";
                                  #at says which node the next question is asked from
  #inbox-button "Inbox"           #inbox-count: what waits; #inbox: #inbox-list of .card[data-thread-id][data-kind=
                                  approval|question|interrupt][data-id]; answered with button[data-choice=yes|no|
                                  always|edit|reason|respond|no-to-all|accept|decline|cancel|answer|send]; an edited call or a
                                  reason in textarea[data-field=args|reason]; a form's fields [data-field=NAME];
                                  an interrupt's answer textarea[data-field=answer]
  #notify "Notify me"             asks for notifications (on that tap only)
  #jobs-button "Background replies"  #jobs-count: running; #jobs: #job-list li > button[data-job-id][data-state];
                                  #job-view follows one live, with button[data-action=open-thread] and, while it
                                  runs, button[data-action=stop-job] "Stop" (chat stop)
  #status (role=status)           what happened, errors (class bad)
The inbox, the background replies and the threads are asked every few seconds while the page is visible (the open
thread is read again when something else wrote to it). A request refused for
want of a session (401) goes to /signin.
*/
"use strict";

(() => {
  const POLL_MS = 4000;
  const $ = (id) => document.getElementById(id);
  const state = {
    threads: [], thread: null, exists: false, title: "", commands: new Set(), live: null, files: [], at: null,
    inboxKey: "", asked: null, jobs: [], following: null, threadsKey: "", openedAt: null, hits: [], hitsFor: "",
    fromApp: null, // what a view put in the question box (taken out when another thread is opened)
  };

  // ---- text, made safe -------------------------------------------------------------------------------------

  // C0 controls but newline and tab as their visible symbols, DEL as ␡, C1 and bidirectional overrides as U+FFFD.
  const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
  function visible(text) {
    return String(text ?? "").replace(/\r\n?/g, "\n").replace(CONTROLS, (c) => {
      const code = c.charCodeAt(0);
      if (code < 0x20) return String.fromCharCode(0x2400 + code);
      return code === 0x7f ? "\u2421" : "\ufffd";
    });
  }

  // el("div", {class: "x", "data-a": 1, onclick: f}, child, "text", ...): text children are visible text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = visible(value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(visible(child)) : child);
    }
    return node;
  }

  function safeUrl(url) {
    if (!/^https?:\/\//i.test(url)) return null;
    try {
      const parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  function link(url, children) {
    const href = safeUrl(url);
    if (!href) return null;
    return el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", title: href }, children);
  }

  // ---- an answer's Markdown, as chat read it ---------------------------------------------------------------

  // serve reads an answer's Markdown (?reading=true: chatcli.content.markdown, what the terminal draws) and sends
  // a line of reading for each line of its text; here each becomes elements, joined to the block the one before began.
  const TAGS = { strong: "strong", em: "em", code: "code", strike: "del" };

  // Spans ([text, styles, link]) as nodes: a link's run of spans one link (http(s) only; else its target after it).
  function spans(list = []) {
    const out = [];
    for (let k = 0; k < list.length; ) {
      const target = list[k][2];
      const run = [];
      for (; k < list.length && list[k][2] === target; k++) {
        const [text, styles] = list[k];
        run.push(styles.reduceRight((inner, style) => (TAGS[style] ? el(TAGS[style], {}, inner) : inner), document.createTextNode(visible(text))));
      }
      out.push(...(target ? [link(target, run) || el("span", {}, run, ` (${target})`)] : run));
    }
    return out;
  }

  function codeBlock(lang) {
    const lines = [];
    const code = el("code");
    const copy = el("button", { type: "button", class: "copy", "data-action": "copy", "aria-label": "Copy code" }, "Copy");
    copy.addEventListener("click", () => copyText(lines.join("\n"), copy));
    const node = el("div", { class: "code" }, lang ? el("span", { class: "lang" }, lang) : null, el("pre", { "data-lang": lang }, code), copy);
    const add = (text) => code.append(`${lines.push(text) > 1 ? "\n" : ""}${visible(text)}`);
    return { kind: "code", node, add };
  }

  // An answer's text part: its .answer node, the reading's elements in it (the lines not read yet after them, as text).
  function readPart() {
    const node = el("div", { class: "answer" });
    const tail = node.appendChild(el("div", { class: "tail" }));
    return { node, tail, box: node, quote: 0, block: null, text: "", at: 0 };
  }

  // The reading's ``lines`` added to ``part``.
  function readLines(part, lines) {
    for (const line of lines) {
      const { kind, quote = 0 } = line;
      if (quote !== part.quote) { // a quote's lines inside as many blockquotes
        part.box = part.node;
        for (let d = 0; d < quote; d++) part.box = put(part, el("blockquote"));
        Object.assign(part, { quote, block: null });
      }
      let block = part.block;
      if (kind === "text" && line.spans) {
        if (block?.kind === "text") block.node.append(el("br"));
        else block = { kind, node: put(part, el("p")) };
        block.node.append(...spans(line.spans));
      } else if (kind === "item") {
        if (block?.kind !== "item") block = { kind, node: put(part, el("ul", { class: "items" })) };
        const item = el("li", {}, el("span", { class: "marker" }, "-*+".includes(line.marker) ? "•" : line.marker), " ", spans(line.spans));
        item.style.marginLeft = `${line.indent || 0}ch`; // (the item's indentation as written, as the terminal keeps it)
        block.node.append(item);
      } else if (kind === "open" || (kind === "code" && block?.kind !== "code")) {
        block = codeBlock(line.lang || "");
        put(part, block.node);
        if (kind === "code") block.add(line.text || "");
      } else if (kind === "code") block.add(line.text || "");
      else if (kind === "table") {
        block = { kind, body: el("tbody"), align: line.align };
        const head = el("tr", {}, line.cells.map((cell, k) => el("th", { class: `align-${line.align[k]}` }, spans(cell))));
        put(part, el("table", {}, el("thead", {}, head), block.body));
      } else if (kind === "row" && block?.kind === "table") {
        block.body.append(el("tr", {}, block.align.map((a, k) => el("td", { class: `align-${a}` }, spans((line.cells || [])[k])))));
      } else if (kind === "heading" || kind === "rule") {
        put(part, kind === "rule" ? el("hr") : el(`h${line.level}`, {}, spans(line.spans)));
        block = null;
      } else if (kind !== "delimiter") block = null; // a blank line, a code block's end, an empty line in a quote
      part.block = block;
      const end = part.text.indexOf("\n", part.at);
      part.at = end < 0 ? part.text.length : end + 1;
    }
  }

  // ``node`` added where the part's next block goes (before its unread text).
  const put = (part, node) => (part.box === part.node ? part.node.insertBefore(node, part.tail) : part.box.appendChild(node));

  // A whole text's reading as an answer's node.
  function reading(lines) {
    const part = readPart();
    readLines(part, lines || []);
    return part.node;
  }

  async function copyText(text, button) {
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
      else {
        const area = el("textarea", { readonly: true, class: "offscreen" });
        area.value = text;
        document.body.append(area);
        area.select();
        document.execCommand("copy");
        area.remove();
      }
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select it";
    }
    setTimeout(() => (button.textContent = "Copy"), 1500);
  }

  // ---- the API ---------------------------------------------------------------------------------------------

  class Refused extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function request(method, path, body, accept = "application/json", signal = undefined) {
    const headers = { Accept: accept };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin", cache: "no-store",
    });
    if (response.status === 401) {
      location.assign("/signin");
      throw new Refused(401, "not signed in");
    }
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        message = (await response.json()).error.message || message;
      } catch {}
      throw new Refused(response.status, message);
    }
    return response;
  }

  const api = async (method, path, body) => {
    const response = await request(method, path, body);
    return response.status === 204 ? null : response.json();
  };

  // The server-sent events of a response, each its data's object.
  async function* events(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      for (let end; (end = buffer.indexOf("\n\n")) >= 0; ) {
        const data = buffer.slice(0, end).split("\n").filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).replace(/^ /, "")).join("\n");
        buffer = buffer.slice(end + 2);
        if (data) yield JSON.parse(data);
      }
    }
  }

  const READ = "?reading=true"; // answers' Markdown read by serve, as the terminal draws it
  const threadPath = (id, rest = "") => `/v1/threads/${encodeURIComponent(id)}${rest}`;

  function say(text, bad = false) {
    const status = $("status");
    status.textContent = visible(text);
    status.classList.toggle("bad", bad);
  }

  function failed(error) {
    if (error.name === "AbortError" || (error instanceof Refused && error.status === 401)) return;
    say(error.message || String(error), true);
  }

  function newId() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function when(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return "";
    const s = (Date.now() - t) / 1000;
    if (s < 60) return "just now";
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return new Date(t).toLocaleDateString();
  }

  // ---- the threads -----------------------------------------------------------------------------------------

  async function loadThreads() {
    const threads = await api("GET", "/v1/threads");
    const key = threads.map((t) => `${t.thread_id} ${t.updated_at} ${t.title}`).join("\n");
    state.threads = threads;
    if (key !== state.threadsKey) showThreads(); // (a list redrawn as it is tapped would lose the tap)
    state.threadsKey = key;
    // The open thread, said to elsewhere (a background reply, another door): read again, unless it is being used.
    const open = threads.find((t) => t.thread_id === state.thread);
    const busy = state.live || $("messages").contains(document.activeElement);
    if (open && state.openedAt && open.updated_at !== state.openedAt && !busy) await openThread(state.thread, true);
  }

  function showThreads() {
    const words = $("thread-search").value.toLowerCase().split(/\s+/).filter(Boolean);
    const found = state.threads.filter((t) => {
      const seen = `${t.title || ""} ${t.thread_id}`.toLowerCase();
      return words.every((w) => seen.includes(w));
    });
    $("thread-list").replaceChildren(
      ...found.map((t) =>
        el(
          "li",
          {},
          el(
            "button",
            {
              type: "button", "data-thread-id": t.thread_id, "aria-current": String(t.thread_id === state.thread),
              onclick: () => go(t.thread_id),
            },
            el("span", { class: "row-title" }, t.title || "(untitled)"),
            el("span", { class: "row-meta" }, `${when(t.updated_at)} · ${t.message_count} messages${t.model ? ` · ${t.model}` : ""}`),
          ),
        ),
      ),
    );
    // The threads whose words match (serve's full-text search, as `chat search`), beside those whose title does
    const shown = new Set(found.map((t) => t.thread_id));
    const hits = state.hitsFor === $("thread-search").value.trim() ? state.hits : [];
    for (const h of hits) {
      if (shown.has(h.thread_id)) continue;
      shown.add(h.thread_id);
      $("thread-list").append(el("li", {}, el(
        "button", { type: "button", "data-thread-id": h.thread_id, "data-hit": "", onclick: () => go(h.thread_id) },
        el("span", { class: "row-title" }, h.title || "(untitled)"),
        el("span", { class: "row-meta" }, `${h.speaker}: ${h.snippet}`),
      )));
    }
    if (!shown.size) $("thread-list").append(el("li", { class: "empty" }, words.length ? "No thread matches." : "No threads yet."));
  }

  // The search box's words looked for in the threads' text too, once the typing pauses.
  let searching = null;
  function searchText() {
    clearTimeout(searching);
    showThreads();
    const q = $("thread-search").value.trim();
    if (!q) return;
    searching = setTimeout(async () => {
      let hits = [];
      try {
        hits = await api("GET", `/v1/search?q=${encodeURIComponent(q)}&limit=30`);
      } catch {}
      if ($("thread-search").value.trim() !== q) return;
      state.hits = hits;
      state.hitsFor = q;
      showThreads();
    }, 250);
  }

  // The thread ``id`` opened, read again if it is the one open (its address kept for a reload and the back button).
  function go(id) {
    closePanels();
    const hash = `#thread=${encodeURIComponent(id)}`;
    if (location.hash !== hash) history.pushState(null, "", hash);
    openThread(id).catch(failed);
  }

  function fromHash() {
    const id = new URLSearchParams(location.hash.slice(1)).get("thread");
    openThread(id || null).catch(failed);
  }

  async function openThread(id, again = false) {
    state.thread = id;
    if (!again) {
      state.at = null;
      showAt();
      if ($("question").value === state.fromApp) $("question").value = "";
      state.fromApp = null;
      fitQuestion();
    }
    const main = $("thread");
    const [top, atEnd] = [main.scrollTop, main.scrollHeight - main.scrollTop - main.clientHeight < 120];
    const box = $("messages");
    let data = null;
    if (id) {
      try {
        data = await api("GET", threadPath(id, READ));
      } catch (error) {
        if (!(error instanceof Refused && error.status === 404)) throw error;
      }
    }
    if (state.thread !== id) return; // another was opened meanwhile
    state.openedAt = data ? data.updated_at : null;
    state.title = data ? data.title || "(untitled)" : id ? "New thread" : "chat";
    $("thread-title").textContent = visible(state.title);
    document.title = `${state.title} · chat`;
    box.replaceChildren();
    if (data) showMessages(box, data.messages);
    else box.append(el("p", { class: "empty" }, "Ask anything below; your threads are in the menu at the top left."));
    const live = state.live && state.live.thread === id ? state.live.view : null;
    if (live) box.append(live.root);
    state.exists = Boolean(data);
    showActions();
    showThreads();
    if (data && !live) await showWaiting(id);
    if (again && !atEnd) main.scrollTop = top; // (read again under a reader: where they were)
    else scrollDown(true);
  }

  function showActions() {
    const can = (name) => state.exists && state.commands.has(name) && !state.live;
    $("retry").hidden = !can("retry");
    $("undo").hidden = !can("undo");
    $("background").hidden = !can("bg");
    $("tree-button").hidden = !state.exists;
  }

  function showMessages(box, messages) {
    const results = new Map(messages.filter((m) => m.role === "tool").map((m) => [m.tool_call_id, m]));
    const shown = new Set();
    for (const m of messages) {
      if (m.role === "user") box.append(userMessage(m.content, m.attachments));
      else if (m.role === "assistant") {
        const view = new Answer(m.model);
        if (m.reasoning) view.thinking(m.reasoning);
        if (m.read) view.read(m.read);
        for (const call of m.tool_calls || []) {
          const result = results.get(call.id);
          shown.add(call.id);
          view.call(call);
          if (result) view.result({ ...call, ...result, id: call.id, arguments: call.arguments });
        }
        view.end(m.interrupted ? `stopped (${m.interrupted})` : null);
        box.append(view.root);
      } else if (!shown.has(m.tool_call_id)) {
        box.append(el("div", { class: "message", "data-role": "tool" }, el("pre", {}, m.content)));
      }
    }
  }

  function userMessage(text, attachments) {
    return el(
      "div",
      { class: "message", "data-role": "user" },
      text,
      (attachments || []).map((a) => {
        const image = /^image\/(png|jpeg|gif|webp)$/.test(a.type || "") && a.data ? el("img", { alt: a.name, src: `data:${a.type};base64,${a.data}` }) : null;
        return el("span", { class: "attachment" }, image, `📎 ${a.name}`);
      }),
    );
  }

  function scrollDown(always = false) {
    const main = $("thread");
    if (always || main.scrollHeight - main.scrollTop - main.clientHeight < 120) main.scrollTop = main.scrollHeight;
  }

  // An answer as it is shown: text parts (Markdown) between tool calls, thinking folded, drawn at most once a frame.
  class Answer {
    constructor(model) {
      this.root = el("div", { class: "message", "data-role": "assistant" });
      if (model) this.root.append(el("div", { class: "meta" }, model));
      this.part = null;
      this.calls = new Map();
      this.pending = false;
    }
    live() {
      this.root.setAttribute("data-live", "");
      return this;
    }
    token(text) {
      this.text().text += text;
      this.draw();
    }
    // Lines of the reading of the text so far (serve's, on the event that completed them).
    read(lines) {
      readLines(this.text(), lines);
      this.part.tail.textContent = visible(this.part.text.slice(this.part.at));
    }
    text() {
      if (!this.part) this.root.append((this.part = readPart()).node);
      return this.part;
    }
    draw() {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        if (this.part) this.part.tail.textContent = visible(this.part.text.slice(this.part.at));
        scrollDown();
      });
    }
    thinking(text) {
      if (!this.thought) {
        this.thought = el("div", { class: "thinking" });
        this.root.append(el("details", { "data-kind": "thinking" }, el("summary", {}, "Thinking"), this.thought));
      }
      this.thought.append(document.createTextNode(visible(text)));
    }
    aside(source, text) {
      this.asides ||= new Map();
      if (!this.asides.has(source)) {
        const shown = el("div", { class: "thinking" });
        this.root.append(el("details", { "data-kind": "subgraph" }, el("summary", {}, source || "subgraph"), shown));
        this.asides.set(source, shown);
      }
      this.asides.get(source).append(document.createTextNode(visible(text)));
    }
    call(call) {
      this.part = null; // what comes after the call is a part of its own
      const id = CSS.escape(String(call.id));
      const kept = document.querySelector(`#messages details[data-kind="tool-call"][data-call-id="${id}"]`);
      const keptStatus = kept && !this.root.contains(kept) && kept.querySelector("summary .row-meta");
      if (keptStatus) { // shown waiting, from the kept thread: approved, it runs on in its place, shown once
        kept.setAttribute("data-status", "running");
        this.calls.set(call.id, { box: kept, status: keptStatus });
        return;
      }
      const label = call.label || call.name;
      const summary = el("summary", {}, `⚙ ${label}${call.server ? ` (${call.server})` : ""}`);
      const status = el("span", { class: "row-meta" });
      summary.append(status);
      const box = el(
        "details",
        { "data-kind": "tool-call", "data-call-id": call.id, "data-status": "running" },
        summary,
        el("pre", { "aria-label": "Arguments" }, JSON.stringify(call.arguments ?? {}, null, 2)),
      );
      this.calls.set(call.id, { box, status });
      this.root.append(box);
    }
    progress(event) {
      const shown = this.calls.get(event.id);
      if (shown) shown.status.textContent = visible(` ${event.message || ""} ${event.seconds ?? ""}s`);
    }
    result(result) {
      if (!this.calls.has(result.id)) this.call(result);
      const { box, status } = this.calls.get(result.id);
      box.setAttribute("data-status", result.status || "ok");
      status.textContent = visible(` ${result.status || "ok"}${result.seconds != null ? `, ${Number(result.seconds).toFixed(1)}s` : ""}`);
      box.append(el("div", { "data-kind": "tool-result" }, el("pre", {}, result.content ?? "")));
      if (result.view && result.server && !box.nextElementSibling?.matches?.("iframe.app")) box.after(appFrame(result));
    }
    end(note, bad = false) {
      this.root.removeAttribute("data-live");
      if (note) this.root.append(el("p", { class: bad ? "error" : "interrupted" }, note));
    }
    // One event of serve's stream (a turn's, or a background reply's).
    take(event) {
      if (event.type === "token") this.token(event.text || "");
      if (event.read) this.read(event.read); // (before a call or the end: the text's last lines)
      switch (event.type) {
        case "reasoning": this.thinking(event.text || ""); break;
        case "subgraph": this.aside(event.namespace || "", event.text || ""); break;
        case "tool_call": this.call(event); break;
        case "progress": this.progress(event); break;
        case "tool_result": this.result(event); break;
        case "error": this.end(event.error ? event.error.message : "failed", true); break;
        case "done": this.end(event.approval_required || event.interrupts ? "waiting for you: see below" : null); break;
        default: break;
      }
    }
  }

  // ---- asking ----------------------------------------------------------------------------------------------

  // The answer to a request, followed live in the thread ``thread`` (``prepare`` puts what it answers on screen).
  async function stream(thread, path, body, prepare) {
    if (state.live) return;
    const controller = new AbortController();
    const view = new Answer().live();
    state.live = { thread, controller, view };
    setBusy(true);
    if (state.thread === thread) {
      prepare?.();
      $("messages").append(view.root);
      scrollDown(true);
    }
    let ended = false;
    try {
      const response = await request("POST", path + READ, body, "text/event-stream", controller.signal);
      for await (const event of events(response)) {
        view.take(event);
        ended ||= event.type === "done" || event.type === "error";
      }
      if (!ended) view.end("the answer ended without its end", true);
    } catch (error) {
      if (error.name === "AbortError") view.end("stopped: the part that arrived is kept");
      else {
        view.end(error.message, true);
        failed(error);
      }
    } finally {
      state.live = null;
      setBusy(false);
    }
    loadThreads().catch(failed);
    pollInbox();
    if (state.thread === thread && ended) await openThread(thread);
  }

  function setBusy(busy) {
    $("stop").hidden = !busy;
    $("send").hidden = busy;
    showActions();
  }

  function stop() {
    if (state.live) state.live.controller.abort();
  }

  async function send(background = false) {
    const text = $("question").value;
    if (!text.trim() || state.live) return;
    say("");
    const thread = state.thread || newId();
    const files = state.files;
    if (background) {
      const done = await api("POST", threadPath(thread, "/commands"), { command: "bg", input: text });
      $("question").value = "";
      say(`Answering in the background as ${done.job}.`);
      pollJobs();
      return;
    }
    const body = { content: text, attachments: files.map(({ name, data }) => ({ name, data_base64: data })) };
    if (state.at) body.at = String(state.at);
    $("question").value = "";
    fitQuestion();
    state.files = [];
    showFiles();
    if (!state.thread) {
      state.thread = thread;
      history.replaceState(null, "", `#thread=${encodeURIComponent(thread)}`);
      $("messages").replaceChildren();
    }
    state.at = null;
    showAt();
    const shownFiles = files.map((f) => ({ name: f.name, type: f.type, data: f.data }));
    await stream(thread, threadPath(thread, "/messages"), body, () => $("messages").append(userMessage(text, shownFiles)));
  }

  async function command(name, input = "") {
    if (!state.thread || state.live) return;
    const thread = state.thread;
    if (name === "retry") {
      const dropLast = () => {
        const answers = $("messages").querySelectorAll('.message[data-role="assistant"], .card');
        const last = answers[answers.length - 1];
        if (last) last.remove();
      };
      return stream(thread, threadPath(thread, "/commands"), { command: "retry" }, dropLast);
    }
    const done = await api("POST", threadPath(thread, "/commands"), { command: name, input });
    say(done.said || `${name}: done`);
    await openThread(thread);
    loadThreads().catch(failed);
  }

  async function readFiles(list) {
    for (const file of list) {
      const data = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
        reader.onerror = () => reject(reader.error);
        reader.readAsDataURL(file);
      });
      state.files.push({ name: file.name, type: file.type, data });
    }
    showFiles();
  }

  function showFiles() {
    $("attached").replaceChildren(
      ...state.files.map((f, k) =>
        el("li", {}, f.name, el("button", {
          type: "button", "aria-label": `Remove ${f.name}`,
          onclick: () => { state.files.splice(k, 1); showFiles(); },
        }, "✕")),
      ),
    );
  }

  function fitQuestion() {
    const q = $("question");
    q.style.height = "auto";
    q.style.height = `${Math.min(q.scrollHeight + 2, window.innerHeight * 0.4)}px`;
  }

  function showAt() {
    const at = $("at");
    at.hidden = !state.at;
    at.replaceChildren();
    if (state.at) {
      at.append(`Asking from answer ${state.at} `, el("button", {
        type: "button", "aria-label": "Ask from the end again", onclick: () => { state.at = null; showAt(); },
      }, "✕"));
    }
  }

  // ---- the tree --------------------------------------------------------------------------------------------

  async function openTree() {
    if (!state.thread) return;
    const tree = await api("GET", threadPath(state.thread, `/tree${READ}`));
    const depth = new Map();
    const list = $("tree-list");
    list.replaceChildren();
    for (const node of tree.nodes) {
      const d = node.parent == null ? 0 : (depth.get(node.parent) ?? 0) + (tree.nodes.find((n) => n.node === node.parent)?.children.length > 1 ? 1 : 0);
      depth.set(node.node, d);
      const row = el(
        "button",
        {
          type: "button", "data-node": node.node, "data-current": String(Boolean(node.current)),
          "aria-current": String(Boolean(node.current)), onclick: () => showNode(node),
        },
        el("span", { class: "row-title" }, `${node.node}. ${node.question || `(${node.kind})`}`),
        el("span", { class: "row-meta" }, `${node.current ? "● here · " : ""}${node.labels?.length ? `${node.labels.join(", ")} · ` : ""}${(node.answer || "").slice(0, 120)}`),
      );
      row.style.paddingLeft = `${14 + Math.min(d, 8) * 16}px`;
      list.append(el("li", {}, row));
    }
    $("node-view").hidden = true;
    openPanel("tree");
  }

  function showNode(node) {
    const view = $("node-view");
    view.hidden = false;
    view.replaceChildren(
      el("div", { class: "message", "data-role": "user" }, node.question || `(${node.kind})`),
      el("div", { class: "message", "data-role": "assistant" }, reading(node.read)),
      el("div", { class: "choices" },
        el("button", { type: "button", "data-action": "goto", class: "primary", onclick: () => { closePanels(); command("goto", String(node.node)).catch(failed); } }, "Go to this answer"),
        el("button", { type: "button", "data-action": "at", onclick: () => { state.at = node.node; showAt(); closePanels(); $("question").focus(); } }, "Ask from here"),
      ),
    );
    view.scrollIntoView({ block: "start" });
  }

  // ---- what waits for the user -----------------------------------------------------------------------------

  async function pollInbox() {
    if (document.visibilityState !== "visible") return;
    let rows;
    try {
      rows = await api("GET", "/v1/inbox");
    } catch (error) {
      return failed(error);
    }
    const ids = rows.flatMap((r) => r.asked.map((a) => `${r.thread_id}/${a.id}`));
    const count = $("inbox-count");
    count.hidden = !ids.length;
    count.textContent = String(ids.length);
    if (state.asked) {
      const fresh = rows.flatMap((r) => r.asked.filter((a) => !state.asked.has(`${r.thread_id}/${a.id}`)).map((a) => [r, a]));
      for (const [row, asked] of fresh) notify(row, asked);
    }
    state.asked = new Set(ids);
    const key = ids.join("\n");
    if (key !== state.inboxKey) {
      state.inboxKey = key;
      await showInbox(rows);
    }
  }

  function notify(row, asked) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const shown = new Notification(`chat: ${visible(row.title || row.thread_id)} waits for you`, { body: visible(asked.text), tag: `${row.thread_id}/${asked.id}` });
      shown.onclick = () => { window.focus(); openPanel("inbox"); };
    } catch {} // (a browser that shows notifications from a service worker only: the badge says it)
  }

  async function showInbox(rows) {
    const list = $("inbox-list");
    const cards = [];
    for (const row of rows) {
      let items;
      try {
        items = await api("GET", threadPath(row.thread_id, "/waiting"));
      } catch {
        items = row.asked.map((a) => ({ kind: a.kind, id: a.id, text: a.text }));
      }
      const open = (e) => { e.preventDefault(); go(row.thread_id); };
      cards.push(el("h3", { class: "card-thread" }, el("a", { href: `#thread=${encodeURIComponent(row.thread_id)}`, onclick: open }, row.title || row.thread_id),
        el("span", { class: "row-meta" }, `waiting since ${when(row.since)}`)));
      cards.push(...waitingCards(row.thread_id, items));
    }
    list.replaceChildren(...cards);
    if (!rows.length) list.append(el("p", { class: "empty" }, "Nothing waits for you."));
    $("notify").hidden = !("Notification" in window) || Notification.permission !== "default";
  }

  async function showWaiting(thread) {
    let items = [];
    try {
      items = await api("GET", threadPath(thread, "/waiting"));
    } catch {}
    if (state.thread === thread && items.length) $("messages").append(...waitingCards(thread, items));
  }

  // What a thread waits on, a card each, answered with the choices the prompt gives.
  function waitingCards(thread, items) {
    const decided = {};
    const calls = items.filter((i) => i.kind === "approval");
    const answer = (body) => {
      closePanels();
      const hash = `#thread=${encodeURIComponent(thread)}`;
      if (location.hash !== hash) history.pushState(null, "", hash); // (no hashchange: answerWith opens it)
      answerWith(thread, body).catch(failed);
    };
    const decide = (id, decision) => {
      decided[id] = decision;
      if (calls.every((c) => decided[c.id])) answer({ decisions: decided });
    };
    return items.map((item) => {
      const card = el("div", { class: "card", "data-thread-id": thread, "data-kind": item.kind, "data-id": item.id });
      if (item.kind === "approval") approvalCard(card, item, decide, () => {
        for (const c of calls) decided[c.id] ||= { action: "no" };
        answer({ decisions: decided });
      });
      else if (item.kind === "question" && item.value) questionCard(card, item, (value) => answer({ answers: { [item.id]: value } }));
      else if (item.kind === "interrupt") interruptCard(card, item, (value) => answer({ answers: { [item.id]: value } }));
      else card.append(el("p", {}, item.text || ""), el("p", { class: "row-meta" }, "Open the thread in a terminal to answer it."));
      return card;
    });
  }

  const choice = (name, words, onclick, primary = false) =>
    el("button", { type: "button", "data-choice": name, class: primary ? "primary" : null, onclick }, words);

  function approvalCard(card, item, decide, refuseAll) {
    const call = item.call || {};
    const allowed = new Set(item.allowed || ["approve", "edit", "reject"]);
    const choices = el("div", { class: "choices" });
    const extra = el("div");
    const decided = (words, decision) => {
      choices.replaceChildren(el("span", { class: "done" }, words));
      extra.replaceChildren();
      decide(item.id, decision);
    };
    card.append(
      el("h3", {}, `Run ${call.label || call.name}${call.server && call.server !== "builtin" ? ` (MCP server ${call.server})` : ""}?`),
      item.description ? el("p", {}, item.description) : "",
      item.where ? el("p", { class: "row-meta", "data-kind": "where" }, item.where) : "", // (a shell's sandbox)
      el("pre", { "aria-label": "The call's arguments" }, JSON.stringify(call.arguments ?? {}, null, 2)),
      choices,
      extra,
    );
    const edit = (field, words, prefill, done) => {
      const area = el("textarea", { "data-field": field, "aria-label": words, rows: 5 });
      area.value = prefill;
      extra.replaceChildren(area, el("div", { class: "choices" }, choice("send", words, () => done(area.value), true)));
      area.focus();
    };
    if (allowed.has("approve")) {
      choices.append(choice("yes", "Yes", () => decided("yes", { action: "yes" }), true));
      choices.append(choice("always", "Always this tool", () => decided("yes, and always this tool", { action: "yes", always: true })));
    }
    if (allowed.has("reject")) choices.append(choice("no", "No", () => decided("no", { action: "no" })));
    if (allowed.has("edit")) {
      choices.append(choice("edit", "Edit", () => edit("args", "Run with these arguments", JSON.stringify(call.arguments ?? {}, null, 2), (text) => {
        let args;
        try {
          args = JSON.parse(text);
        } catch {
          return say("The arguments are not JSON.", true);
        }
        if (!args || typeof args !== "object" || Array.isArray(args)) return say("The arguments are a JSON object.", true);
        decided("yes, edited", { action: "yes", args });
      })));
    }
    if (allowed.has("respond")) {
      choices.append(choice("respond", "Type the answer", () => edit("answer", "Answer for the tool", "", (text) => decided("answered", { action: "respond", reason: text }))));
    }
    if (allowed.has("reject")) {
      choices.append(choice("reason", "No, saying why", () => edit("reason", "Refuse with this reason", "", (reason) => decided("no", { action: "no", reason }))));
      if (refuseAll) choices.append(choice("no-to-all", "No to all", () => refuseAll()));
    }
  }

  function questionCard(card, item, send) {
    const q = item.value;
    card.append(el("h3", {}, `${q.tool}${q.server ? ` (MCP server ${q.server})` : ""} asks:`), el("p", {}, q.message || "(no text)"));
    const buttons = el("div", { class: "choices" });
    if (q.mode === "url") {
      card.append(el("p", {}, "Address: ", link(q.url, [q.url]) || el("span", {}, q.url || "")));
      buttons.append(choice("accept", "Done: I went there", () => send({ action: "accept" }), true));
    } else {
      const fields = formFields(card, q.requested_schema || {});
      buttons.append(choice("accept", "Answer", () => {
        const content = {};
        for (const f of fields) {
          const value = f.read();
          if (value === undefined) {
            if (f.required) return say(`${f.label} is needed.`, true);
          } else content[f.name] = value;
        }
        send({ action: "accept", content });
      }, true));
    }
    buttons.append(choice("decline", "No, decline", () => send({ action: "decline" })));
    buttons.append(choice("cancel", "Cancel", () => send({ action: "cancel" })));
    card.append(buttons);
  }

  // A tool's form (its requested schema: flat properties of strings, numbers, booleans, choices), each read back.
  function formFields(card, schema) {
    const required = new Set(schema.required || []);
    return Object.entries(schema.properties || {}).map(([name, p]) => {
      const label = p.title || name;
      const attrs = { "data-field": name, "aria-label": label };
      const options = p.enum ? p.enum.map((v, k) => [v, (p.enumNames || [])[k] ?? String(v)])
        : p.oneOf ? p.oneOf.map((o) => [o.const, o.title ?? String(o.const)]) : null;
      const many = p.type === "array" && p.items ? (p.items.enum || (p.items.anyOf || p.items.oneOf || []).map((o) => o.const)) : null;
      let input;
      let read;
      if (p.type === "boolean") {
        input = el("input", { ...attrs, type: "checkbox", checked: p.default === true });
        read = () => input.checked;
        card.append(el("label", { class: "check" }, input, label));
      } else if (many) {
        const boxes = many.map((v) => el("input", { type: "checkbox", value: String(v), checked: (p.default || []).includes(v) }));
        input = el("fieldset", attrs, el("legend", {}, label), many.map((v, k) => el("label", { class: "check" }, boxes[k], String(v))));
        read = () => many.filter((_, k) => boxes[k].checked);
        card.append(input);
      } else {
        if (options) {
          input = el("select", attrs, required.has(name) ? null : el("option", { value: "" }, ""), options.map(([v, words], k) => el("option", { value: String(k), selected: p.default === v }, words)));
          read = () => (input.value === "" ? undefined : options[Number(input.value)][0]);
        } else {
          const number = p.type === "number" || p.type === "integer";
          const type = number ? "number" : { email: "email", uri: "url", date: "date", "date-time": "datetime-local" }[p.format] || "text";
          input = el("input", { ...attrs, type, min: p.minimum, max: p.maximum, step: p.type === "integer" ? 1 : number ? "any" : null, minlength: p.minLength, maxlength: p.maxLength });
          if (p.default !== undefined && p.default !== null) input.value = String(p.default);
          read = () => (input.value === "" ? undefined : number ? Number(input.value) : input.value);
        }
        card.append(el("label", {}, `${label}${required.has(name) ? " (needed)" : ""}`, p.description ? el("span", { class: "row-meta" }, p.description) : null, input));
      }
      return { name, label, required: required.has(name), read };
    });
  }

  function interruptCard(card, item, send) {
    const value = item.value;
    const area = el("textarea", { "data-field": "answer", "aria-label": "Your answer (text, or JSON)", rows: 3 });
    card.append(
      el("h3", {}, "The graph asks:"),
      typeof value === "string" ? el("p", {}, value) : el("pre", {}, JSON.stringify(value, null, 2)),
      area,
      el("div", { class: "choices" }, choice("answer", "Answer", () => {
        let given = area.value;
        try {
          given = JSON.parse(area.value);
        } catch {}
        send(given);
      }, true)),
    );
  }

  async function answerWith(thread, body) {
    if (state.thread !== thread) await openThread(thread);
    $("messages").querySelectorAll(".card").forEach((c) => c.remove());
    await stream(thread, threadPath(thread, "/approvals"), body);
  }

  // ---- background replies ----------------------------------------------------------------------------------

  async function pollJobs() {
    if (document.visibilityState !== "visible") return;
    try {
      state.jobs = await api("GET", "/v1/jobs");
    } catch (error) {
      return failed(error);
    }
    const running = state.jobs.filter((j) => j.state === "running").length;
    $("jobs-count").hidden = !running;
    $("jobs-count").textContent = String(running);
    if (!$("jobs").hidden) showJobs();
  }

  function showJobs() {
    $("job-list").replaceChildren(
      ...state.jobs.map((job) =>
        el("li", {}, el("button", {
          type: "button", "data-job-id": job.id, "data-state": job.state,
          "aria-current": String(state.following?.id === job.id), onclick: () => follow(job),
        },
        el("span", { class: "row-title" }, job.question || "(no question)"),
        el("span", { class: "row-meta" }, `${job.state} · ${job.id} · ${when(new Date(job.started * 1000).toISOString())}`))),
      ),
    );
    if (!state.jobs.length) $("job-list").append(el("li", { class: "empty" }, "No background replies."));
  }

  async function follow(job) {
    state.following?.controller.abort();
    const controller = new AbortController();
    state.following = { id: job.id, controller };
    const view = new Answer().live();
    const box = $("job-view");
    box.hidden = false;
    const stopping = job.state === "running" ? el("button", {
      type: "button", "data-action": "stop-job",
      onclick: async () => { // as chat stop: what arrived is kept in its thread
        stopping.disabled = true;
        try {
          const said = await api("POST", `/v1/jobs/${encodeURIComponent(job.id)}/stop`);
          say(said.stopped ? "Stopped: what arrived is kept in its thread." : `It is not running (${said.state}).`);
          stopping.remove();
        } catch (error) {
          stopping.disabled = false;
          failed(error);
        }
      },
    }, "Stop") : "";
    box.replaceChildren(
      el("div", { class: "message", "data-role": "user" }, job.question || ""),
      view.root,
      el("div", { class: "choices" }, stopping, job.thread_id ? el("button", {
        type: "button", "data-action": "open-thread",
        onclick: () => go(job.thread_id),
      }, "Open its thread") : ""),
    );
    showJobs();
    try {
      const response = await request("GET", `/v1/jobs/${encodeURIComponent(job.id)}/events${READ}`, undefined, "text/event-stream", controller.signal);
      for await (const event of events(response)) view.take(event);
      view.end(null);
    } catch (error) {
      view.end(error.name === "AbortError" ? null : error.message, error.name !== "AbortError");
    }
    pollJobs();
  }

  // ---- panels, keys, start ---------------------------------------------------------------------------------

  function openPanel(name) {
    closePanels();
    $(name).hidden = false;
    $(`${name === "tree" ? "tree-" : name + "-"}button`)?.setAttribute("aria-expanded", "true");
    if (name === "jobs") pollJobs();
    if (name === "inbox") pollInbox();
    $(name).querySelector("input, .close")?.focus();
  }

  function closePanels() {
    for (const name of ["threads", "inbox", "jobs", "tree"]) {
      $(name).hidden = true;
      $(`${name === "tree" ? "tree-" : name + "-"}button`)?.setAttribute("aria-expanded", "false");
    }
    if (state.following) {
      state.following.controller.abort();
      state.following = null;
      $("job-view").hidden = true;
    }
  }

  // ---- MCP Apps ----------------------------------------------------------------------------------------------

  // A tool's view (an MCP App), shown as the MCP Apps specification's reference host shows it: in a frame of chat
  // serve's sandbox proxy, on a port of its own (an origin that is not the page's), which runs the view in a frame of
  // its own origin under the policy its server declares and relays the spec's messages; the page speaks them with the
  // spec's own host SDK (app-bridge.js: AppBridge, loaded with the first view). A view gets the call's arguments and
  // whole result; each call it asks for is decided by serve as any call is, and asked here, in a card under it.
  const APPS = new WeakMap(); // its frame -> the call it shows
  const BRIDGES = new Map(); // its frame -> its AppBridge (closed once the frame is gone)
  let sdk = null;

  function appFrame(call) {
    const frame = el("iframe", {
      class: "app", sandbox: "allow-scripts allow-same-origin allow-forms", referrerpolicy: "no-referrer",
      title: `${call.label || call.name}: the view of MCP server ${call.server}`,
    });
    APPS.set(frame, call);
    frame.inert = typing();
    showView(frame, call).catch((error) => frame.isConnected && frame.replaceWith(el("p", { class: "error", "data-kind": "app-failed" },
      `The view of MCP server ${call.server} cannot be shown: ${error.message || error}`)));
    return frame;
  }

  const loadSdk = () => sdk ||= new Promise((loaded, failed) => {
    const script = el("script", { src: "/page/app-bridge.js" });
    script.addEventListener("load", () => loaded(window.McpApps));
    script.addEventListener("error", () => { sdk = null; failed(new Error("the MCP Apps SDK did not load")); });
    document.head.append(script);
  });

  async function showView(frame, call) {
    const path = `/v1/apps/${encodeURIComponent(call.server)}/view?uri=${encodeURIComponent(call.view.uri)}`;
    const [{ AppBridge, PostMessageTransport }, view] = await Promise.all([loadSdk(), api("GET", path)]);
    for (const [gone, bridge] of BRIDGES) if (!gone.isConnected) { BRIDGES.delete(gone); bridge.close(); }
    if (!frame.isConnected) return; // (another thread was opened meanwhile)
    if (!view.proxy) throw new Error("views are shown by a chat serve on a TCP port");
    const bridge = new AppBridge(null, { name: "chatcli", version: "serve" },
      { serverTools: {}, openLinks: {}, logging: {}, message: { text: {} } }, { hostContext: hostContext(frame, call) });
    BRIDGES.set(frame, bridge);
    const app = { frame, call, thread: state.thread };
    bridge.oncalltool = (params) => appCall(app, String(params.name || ""), params.arguments || {});
    bridge.onopenlink = async (params) => { // asked in a card (a dialog would hold the page: a view may ask on and on)
      const url = safeUrl(String(params.url || ""));
      return url && await asked(app, (decide) => linkCard(call, url, decide)) ? {} : { isError: true };
    };
    bridge.onmessage = async (params) => { // put in the question box for the user to send (or not): an empty one
      // they are not typing in, never over what they wrote, and the keyboard stays where it is
      const text = (params.content || []).filter((b) => b && b.type === "text").map((b) => String(b.text)).join("\n");
      if ($("question").value.trim() || document.activeElement === $("question")) return { isError: true };
      $("question").value = state.fromApp = visible(text);
      fitQuestion();
      return {};
    };
    bridge.onsizechange = ({ height }) => {
      if (frame.nextElementSibling?.matches?.(ASKING)) return; // held while a card waits under it: it stays put
      if (Number(height) > 0) frame.style.height = `${Math.min(Math.ceil(Number(height)), 800)}px`;
    };
    let shown = false;
    bridge.onsandboxready = () => { // once: a proxy the view moved elsewhere is sent nothing
      if (!shown) bridge.sendSandboxResourceReady({ html: view.html, csp: view.csp });
      shown = true;
    };
    bridge.oninitialized = () => {
      bridge.sendToolInput({ arguments: call.arguments || {} });
      bridge.sendToolResult(call.view.result || { content: [{ type: "text", text: call.content || "" }], isError: call.status === "error" });
    };
    await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
    const proxy = new URL(`${location.protocol}//${location.hostname}:${view.proxy}/`);
    proxy.searchParams.set("csp", JSON.stringify(view.csp));
    frame.src = proxy.href;
  }

  const hostContext = (frame, call) => ({
    theme: matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light", displayMode: "inline",
    availableDisplayModes: ["inline"], platform: matchMedia("(pointer: coarse)").matches ? "mobile" : "web",
    locale: navigator.language, timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    toolInfo: { tool: { name: call.name, inputSchema: { type: "object" } } },
    containerDimensions: { maxHeight: 800, width: frame.clientWidth },
  });

  // While the user is in a field of the page (the question, a search, a call's arguments), the views are inert (a
  // click on one leaves the field): so the focus a view takes from a field then is its script's (focus() needs no
  // click), which would take the keys they type. It is given back at once, and a view that takes it again is closed.
  const typing = () => Boolean(document.activeElement?.matches?.("input, textarea, select, [contenteditable]"));
  const held = () => { for (const frame of document.querySelectorAll("iframe.app")) frame.inert = typing(); };
  const took = new WeakMap(); // a view -> how often it took the focus from a field
  let left = null; // the element the focus last left
  document.addEventListener("focusin", held, true);
  document.addEventListener("focusout", (event) => { left = event.target; setTimeout(held); }, true);
  window.addEventListener("blur", () => { // the focus went into a frame (or out of the window)
    const frame = document.activeElement, field = left;
    if (!frame?.matches?.("iframe.app") || !frame.inert || !field?.isConnected) return;
    took.set(frame, (took.get(frame) || 0) + 1);
    const said = `The view of MCP server ${APPS.get(frame)?.server} took the keyboard from the page again: it is closed.`;
    setTimeout(() => { // (not before the frame has it)
      field.focus();
      if (took.get(frame) > 1) frame.replaceWith(el("p", { class: "error", "data-kind": "app-closed" }, said));
    });
  });

  // A card under a view, one at a time (the next waits for the answer), its buttons inert until it has stood still
  // for a moment (as it appears, and each time it moves: a view may scroll the page), the view's size held while it
  // waits: a view cannot bring a card under a click the user meant for the view, nor put another card where the one
  // they read was.
  const ASKING = '.card[data-kind="app-call"], .card[data-kind="app-link"]';
  const INERT_MS = 800;
  const cards = new WeakMap(); // a frame -> its last card, answered or waiting
  function asked(app, made) {
    const answered = (cards.get(app.frame) || Promise.resolve()).then(() => new Promise((decide) => {
      const card = made(decide);
      let where = null, still = 0;
      const watch = (now) => { // each frame the page draws, while it waits
        if (where !== null && !card.isConnected) return;
        const box = card.getBoundingClientRect();
        if (`${box.x} ${box.y}` !== where) [where, still] = [`${box.x} ${box.y}`, now];
        for (const button of card.querySelectorAll("button")) button.disabled = now - still < INERT_MS;
        requestAnimationFrame(watch);
      };
      for (const button of card.querySelectorAll("button")) button.disabled = true;
      app.frame.after(card);
      card.scrollIntoView({ block: "nearest" });
      requestAnimationFrame(watch);
    }));
    cards.set(app.frame, answered);
    return answered;
  }

  // An address a view asks to open: opened in a tab of its own from the user's click, or not.
  function linkCard(call, url, decide) {
    const card = el("div", { class: "card", "data-kind": "app-link" });
    const answered = (opened) => { card.remove(); decide(opened); };
    const open = () => { window.open(url, "_blank", "noopener,noreferrer"); answered(true); };
    card.append(el("h3", {}, `Open a link of the view of MCP server ${call.server}?`), el("p", {}, url),
      el("div", { class: "choices" }, choice("open", "Open", open, true), choice("no", "No", () => answered(false))));
    return card;
  }

  // A call the view asks for: run when serve says it may, else asked in a card under the view, as any call; serve runs
  // the call it showed, whatever is sent with the answer.
  async function appCall(app, tool, args) {
    const path = `/v1/apps/${encodeURIComponent(app.call.server)}/call`;
    const answer = await api("POST", path, { tool, arguments: args, thread: app.thread, result: app.call.id });
    if (!answer.ask) return answer.result;
    const decision = await asked(app, (decide) => {
      const card = el("div", { class: "card", "data-kind": "app-call" });
      const item = { id: "app", call: { ...answer.ask, name: tool }, allowed: ["approve", "reject"], description: answer.ask.reason || `Asked by the view of MCP server ${app.call.server}` };
      approvalCard(card, item, (_id, d) => { card.remove(); decide(d); }, null);
      return card;
    });
    const body = { answer: answer.ask.id, action: decision.action === "yes" ? "yes" : "no", always: Boolean(decision.always), reason: decision.reason || "" };
    return (await api("POST", path, body)).result;
  }

  const toggle = (name) => ($(name).hidden ? openPanel(name) : closePanels());

  function start() {
    $("threads-button").addEventListener("click", () => toggle("threads"));
    $("inbox-button").addEventListener("click", () => toggle("inbox"));
    $("jobs-button").addEventListener("click", () => toggle("jobs"));
    $("tree-button").addEventListener("click", () => openTree().catch(failed));
    document.querySelectorAll(".panel .close").forEach((b) => b.addEventListener("click", closePanels));
    $("thread-search").addEventListener("input", searchText);
    $("new-thread").addEventListener("click", () => {
      closePanels();
      history.pushState(null, "", location.pathname);
      openThread(null).catch(failed);
      $("question").focus();
    });
    $("ask").addEventListener("submit", (e) => { e.preventDefault(); send().catch(failed); });
    $("stop").addEventListener("click", stop);
    $("retry").addEventListener("click", () => command("retry").catch(failed));
    $("undo").addEventListener("click", () => command("undo").catch(failed));
    $("background").addEventListener("click", () => send(true).catch(failed));
    $("attach").addEventListener("change", (e) => { readFiles([...e.target.files]).catch(failed); e.target.value = ""; });
    $("question").addEventListener("input", fitQuestion);
    // A keyboard's Enter sends (Shift-Enter: a new line); a phone's on-screen Enter is a new line, Send sends.
    const touch = matchMedia("(pointer: coarse)").matches && !matchMedia("(any-pointer: fine)").matches;
    if (touch) $("question").setAttribute("enterkeyhint", "enter");
    $("question").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !touch) {
        e.preventDefault();
        send().catch(failed);
      }
    });
    document.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      if (state.live) stop();
      else closePanels();
    });
    $("notify").addEventListener("click", async () => {
      await Notification.requestPermission();
      $("notify").hidden = Notification.permission !== "default";
    });
    window.addEventListener("hashchange", fromHash);
    document.addEventListener("visibilitychange", () => { pollInbox(); pollJobs(); });
    setInterval(() => {
      pollInbox();
      pollJobs();
      if (document.visibilityState === "visible") loadThreads().catch(failed);
    }, POLL_MS);
    api("GET", "/v1/commands")
      .then((offered) => { state.commands = new Set(offered.map((c) => c.name)); showActions(); })
      .catch(failed);
    loadThreads().catch(failed);
    fromHash();
    pollInbox();
    pollJobs();
  }

  start();
})();
