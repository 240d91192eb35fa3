/* The build log viewer: live tail over /ws/builds/<job>/log/, follow / pause, search with
   next / previous, #L<n> permalinks, wrap, ANSI colours, attempt selector, download.

   Lines are kept as data; the page holds blocks of BLOCK lines, and a block's elements are
   made only when it comes near the viewport, so a 100,000-line log costs a few hundred
   elements until someone scrolls through it. A dropped socket reconnects with
   ?since=<lines held>, which the server answers from exactly that line: no gap, no repeat. */
"use strict";

(function () {
  const BLOCK = 500;
  const SGR = /\x1b\[([0-9;]*)m/g;
  const OTHER_ESCAPES = /\x1b(?:\[[0-9;?]*[ -\/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z])/g;
  const BASIC = 16;

  function stripAnsi(text) {
    return text.replace(SGR, "").replace(OTHER_ESCAPES, "");
  }

  function rgbOf256(n) {
    if (n >= 232) {
      const grey = 8 + (n - 232) * 10;
      return `rgb(${grey},${grey},${grey})`;
    }
    const index = n - 16;
    const level = (v) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${level(Math.floor(index / 36))},${level(Math.floor(index / 6) % 6)},${level(index % 6)})`;
  }

  /* A line as segments {text, classes, style}, their texts concatenated being the line
     with its escapes removed (what search sees). */
  function segments(raw) {
    const out = [];
    const state = { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
    let last = 0;
    const emit = (text) => {
      text = text.replace(OTHER_ESCAPES, "");
      if (!text) return;
      const classes = [];
      let style = "";
      if (state.bold) classes.push("ansi-bold");
      if (state.dim) classes.push("ansi-dim");
      if (state.italic) classes.push("ansi-italic");
      if (state.underline) classes.push("ansi-underline");
      if (typeof state.fg === "number") classes.push(`ansi-fg-${state.fg}`);
      else if (state.fg) style += `color:${state.fg};`;
      if (typeof state.bg === "number") classes.push(`ansi-bg-${state.bg}`);
      else if (state.bg) style += `background:${state.bg};`;
      out.push({ text, classes: classes.join(" "), style });
    };
    SGR.lastIndex = 0;
    let match;
    while ((match = SGR.exec(raw)) !== null) {
      emit(raw.slice(last, match.index));
      last = SGR.lastIndex;
      const codes = match[1] === "" ? [0] : match[1].split(";").map(Number);
      for (let i = 0; i < codes.length; i++) {
        const code = codes[i];
        if (code === 0) Object.assign(state, { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });
        else if (code === 1) state.bold = true;
        else if (code === 2) state.dim = true;
        else if (code === 3) state.italic = true;
        else if (code === 4) state.underline = true;
        else if (code === 22) state.bold = state.dim = false;
        else if (code === 23) state.italic = false;
        else if (code === 24) state.underline = false;
        else if (code >= 30 && code <= 37) state.fg = code - 30;
        else if (code >= 90 && code <= 97) state.fg = code - 90 + 8;
        else if (code === 39) state.fg = null;
        else if (code >= 40 && code <= 47) state.bg = code - 40;
        else if (code >= 100 && code <= 107) state.bg = code - 100 + 8;
        else if (code === 49) state.bg = null;
        else if ((code === 38 || code === 48) && codes[i + 1] === 5) {
          const n = codes[i + 2];
          const colour = n < BASIC ? n : rgbOf256(n);
          if (code === 38) state.fg = colour; else state.bg = colour;
          i += 2;
        } else if ((code === 38 || code === 48) && codes[i + 1] === 2) {
          const colour = `rgb(${codes[i + 2] | 0},${codes[i + 3] | 0},${codes[i + 4] | 0})`;
          if (code === 38) state.fg = colour; else state.bg = colour;
          i += 4;
        }
      }
    }
    emit(raw.slice(last));
    return out;
  }

  class LogViewer {
    constructor(root) {
      this.root = root;
      this.body = root.querySelector(".log-body");
      this.socketPath = root.dataset.socket;
      this.downloadBase = root.dataset.download;
      this.controls = {};
      root.querySelectorAll("[data-act]").forEach((el) => { this.controls[el.dataset.act] = el; });
      this.raw = [];        // every line received, by its number over the whole log (0-based)
      this.plain = [];      // the same without escapes
      this.attemptOf = [];  // the attempt each line belongs to
      this.base = 0;        // the number of raw[0]
      this.attempt = null;  // the attempt shown, or null for all
      this.visible = [];    // indexes into raw of the lines shown
      this.blocks = [];     // {el, start, rendered}
      this.query = "";
      this.matches = [];    // {line, start}
      this.current = -1;
      this.following = true;
      this.finished = null;
      this.selected = null;
      this.retries = 0;
      this.observer = new IntersectionObserver((entries) => this.onIntersect(entries), {
        root: this.body, rootMargin: "1200px 0px",
      });
      this.bind();
      this.wantedLine = this.hashLine();
      if (this.wantedLine !== null) this.setFollowing(false);
      this.connect();
    }

    get cursor() { return this.base + this.raw.length; }

    hashLine() {
      const m = /^#L(\d+)$/.exec(window.location.hash);
      return m ? Number(m[1]) : null;
    }

    bind() {
      const c = this.controls;
      c.follow?.addEventListener("click", () => this.setFollowing(!this.following));
      c.wrap?.addEventListener("change", () => {
        this.body.classList.toggle("wrap", c.wrap.checked);
        try { localStorage.setItem("refinery.log.wrap", c.wrap.checked ? "1" : "0"); } catch (e) { /* private mode */ }
      });
      try {
        if (localStorage.getItem("refinery.log.wrap") === "1" && c.wrap) {
          c.wrap.checked = true;
          this.body.classList.add("wrap");
        }
      } catch (e) { /* private mode */ }
      let timer = null;
      c.search?.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => this.search(c.search.value), 120);
      });
      c.search?.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          clearTimeout(timer);
          if (c.search.value !== this.query) this.search(c.search.value);
          this.step(event.shiftKey ? -1 : 1);
        }
      });
      c.next?.addEventListener("click", () => this.step(1));
      c.prev?.addEventListener("click", () => this.step(-1));
      c.attempt?.addEventListener("change", () => this.showAttempt(c.attempt.value ? Number(c.attempt.value) : null));
      this.body.addEventListener("click", (event) => {
        const link = event.target.closest("a.ln");
        if (!link) return;
        event.preventDefault();
        const n = Number(link.dataset.n);
        history.replaceState(null, "", `#L${n}`);
        this.select(n, false);
      });
      window.addEventListener("hashchange", () => {
        const n = this.hashLine();
        if (n !== null) { this.wantedLine = n; this.setFollowing(false); this.revealWanted(); }
      });
      // Only a person's own scrolling pauses or resumes following: the viewer's scrolls
      // come with no wheel, key, touch or pointer just before them.
      const intent = () => { this.userScrollAt = performance.now(); };
      ["wheel", "touchmove", "keydown", "pointerdown"].forEach((name) => this.body.addEventListener(name, intent, { passive: true }));
      this.body.addEventListener("scroll", () => {
        if (performance.now() - (this.userScrollAt || -1e9) > 1000) return;
        const atBottom = this.body.scrollHeight - this.body.scrollTop - this.body.clientHeight < 8;
        if (atBottom && !this.following) this.setFollowing(true);
        else if (!atBottom && this.following) this.setFollowing(false);
      });
      this.updateDownload();
    }

    setState(text) { if (this.controls.state) this.controls.state.textContent = text; }

    setFollowing(on) {
      this.following = on;
      if (on) this.wantedLine = null;
      const button = this.controls.follow;
      if (button) {
        button.setAttribute("aria-pressed", on ? "true" : "false");
        button.textContent = on ? "Following" : "Paused";
      }
      if (on) this.scrollToEnd();
    }

    connect() {
      const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(`${scheme}${window.location.host}${this.socketPath}?since=${this.cursor}`);
      this.socket = socket;
      this.setState(this.retries ? "reconnecting…" : "connecting…");
      socket.onopen = () => { this.retries = 0; this.setState(this.finished ? this.finished : "live"); };
      socket.onmessage = (event) => this.receive(JSON.parse(event.data));
      socket.onclose = (event) => {
        if (this.finished) return;
        if (event.code === 4403) { this.setState("not signed in: reload the page"); return; }
        if (event.code === 4404) { this.setState("this build no longer exists"); return; }
        this.retries += 1;
        const delay = Math.min(5000, 250 * 2 ** Math.min(this.retries, 5));
        this.setState(`disconnected; retrying in ${(delay / 1000).toFixed(1)} s`);
        setTimeout(() => this.connect(), delay);
      };
    }

    receive(message) {
      if (message.type === "finished") {
        this.finished = `finished: ${message.status}`;
        this.root.dataset.finished = message.status;
        this.setState(this.finished);
        return;
      }
      if (message.type !== "lines") return;
      let lines = message.lines;
      let seq = message.seq;
      if (this.raw.length === 0 && this.base === 0 && seq > 0) this.base = seq;
      if (seq < this.cursor) { lines = lines.slice(this.cursor - seq); seq = this.cursor; }
      if (seq > this.cursor) { this.socket.close(); return; }  // a gap: reconnect from the cursor
      if (!lines.length) return;
      this.append(message.attempt, lines);
    }

    append(attempt, lines) {
      const first = this.raw.length;
      for (const line of lines) {
        this.raw.push(line);
        this.plain.push(stripAnsi(line));
        this.attemptOf.push(attempt);
      }
      this.addAttemptOption(attempt);
      const shown = [];
      if (this.attempt === null || this.attempt === attempt) {
        for (let i = first; i < this.raw.length; i++) shown.push(i);
      }
      this.addVisible(shown);
      if (this.query) this.findIn(first, this.raw.length, true);
      this.root.dataset.lines = String(this.cursor);
      if (this.wantedLine !== null) this.revealWanted();
      else if (this.following) this.scrollToEnd();
    }

    addAttemptOption(attempt) {
      const select = this.controls.attempt;
      if (!select || select.querySelector(`option[value="${attempt}"]`)) return;
      const option = document.createElement("option");
      option.value = String(attempt);
      option.textContent = String(attempt);
      select.appendChild(option);
    }

    addVisible(indexes) {
      for (const index of indexes) {
        let block = this.blocks[this.blocks.length - 1];
        if (!block || block.count >= BLOCK) {
          block = { el: document.createElement("div"), start: this.visible.length, count: 0, rendered: false };
          block.el.className = "log-block";
          block.el.dataset.block = String(this.blocks.length);
          this.blocks.push(block);
          this.body.appendChild(block.el);
          this.observer.observe(block.el);
        }
        this.visible.push(index);
        block.count += 1;
        if (block.rendered) block.el.appendChild(this.renderLine(index));
        else block.el.style.height = `${block.count * 1.5}em`;
      }
    }

    rebuild() {
      this.observer.disconnect();
      this.body.replaceChildren();
      this.blocks = [];
      const indexes = this.visible;
      this.visible = [];
      this.addVisible(indexes);
    }

    showAttempt(attempt) {
      this.attempt = attempt;
      const indexes = [];
      for (let i = 0; i < this.raw.length; i++) {
        if (attempt === null || this.attemptOf[i] === attempt) indexes.push(i);
      }
      this.visible = indexes;
      this.rebuild();
      this.search(this.query);
      this.updateDownload();
      if (this.following) this.scrollToEnd();
    }

    updateDownload() {
      const link = this.controls.download;
      if (!link) return;
      link.href = this.attempt === null ? this.downloadBase : `${this.downloadBase}&attempt=${this.attempt}`;
    }

    onIntersect(entries) {
      for (const entry of entries) {
        const block = this.blocks[Number(entry.target.dataset.block)];
        if (!block) continue;
        if (entry.isIntersecting && !block.rendered) this.renderBlock(block);
        else if (!entry.isIntersecting && block.rendered) this.unrenderBlock(block);
      }
    }

    unrenderBlock(block) {
      // Far from view again: keep its height (the scroll position stays put), drop its rows.
      block.el.style.height = `${block.el.offsetHeight}px`;
      block.el.replaceChildren();
      block.rendered = false;
    }

    renderBlock(block) {
      const fragment = document.createDocumentFragment();
      for (let i = block.start; i < block.start + block.count; i++) {
        fragment.appendChild(this.renderLine(this.visible[i]));
      }
      block.el.replaceChildren(fragment);
      block.el.style.height = "";
      block.rendered = true;
    }

    renderLine(index) {
      const n = this.base + index + 1;
      const row = document.createElement("div");
      row.className = "log-line";
      row.id = `L${n}`;
      if (n === this.selected) row.classList.add("selected");
      const number = document.createElement("a");
      number.className = "ln";
      number.href = `#L${n}`;
      number.dataset.n = String(n);
      number.textContent = String(n);
      const text = document.createElement("span");
      text.className = "lt";
      this.fillText(text, index);
      row.append(number, text);
      return row;
    }

    fillText(element, index) {
      const parts = segments(this.raw[index]);
      const ranges = [];
      if (this.query) {
        const lower = this.plain[index].toLowerCase();
        let at = lower.indexOf(this.query);
        while (at !== -1) { ranges.push([at, at + this.query.length]); at = lower.indexOf(this.query, at + this.query.length); }
      }
      const currentMatch = this.current >= 0 ? this.matches[this.current] : null;
      let offset = 0;
      for (const part of parts) {
        const end = offset + part.text.length;
        let cut = offset;
        const pieces = [];
        for (const [s, e] of ranges) {
          if (e <= offset || s >= end) continue;
          const from = Math.max(s, offset), to = Math.min(e, end);
          if (from > cut) pieces.push([part.text.slice(cut - offset, from - offset), false, false]);
          const isCurrent = currentMatch && currentMatch.line === index && currentMatch.start === s;
          pieces.push([part.text.slice(from - offset, to - offset), true, isCurrent]);
          cut = to;
        }
        if (cut < end) pieces.push([part.text.slice(cut - offset), false, false]);
        for (const [piece, marked, isCurrent] of pieces) {
          let node;
          if (marked) {
            node = document.createElement("mark");
            if (isCurrent) node.className = "current";
            node.textContent = piece;
            if (part.classes || part.style) {
              const span = document.createElement("span");
              span.className = part.classes;
              if (part.style) span.style.cssText = part.style;
              span.appendChild(node);
              node = span;
            }
          } else if (part.classes || part.style) {
            node = document.createElement("span");
            node.className = part.classes;
            if (part.style) node.style.cssText = part.style;
            node.textContent = piece;
          } else {
            node = document.createTextNode(piece);
          }
          element.appendChild(node);
        }
        offset = end;
      }
    }

    refreshRendered() {
      for (const block of this.blocks) if (block.rendered) this.renderBlock(block);
    }

    search(value) {
      this.query = value.toLowerCase();
      this.matches = [];
      this.current = -1;
      if (this.query) this.findIn(0, this.raw.length, false);
      this.refreshRendered();
      this.showCount();
    }

    findIn(from, to, render) {
      const before = this.matches.length;
      for (let i = from; i < to; i++) {
        if (this.attempt !== null && this.attemptOf[i] !== this.attempt) continue;
        const lower = this.plain[i].toLowerCase();
        let at = lower.indexOf(this.query);
        while (at !== -1) { this.matches.push({ line: i, start: at }); at = lower.indexOf(this.query, at + this.query.length); }
      }
      if (render && this.matches.length !== before) this.showCount();
    }

    showCount() {
      const label = this.controls.matches;
      if (!label) return;
      if (!this.query) label.textContent = "";
      else if (!this.matches.length) label.textContent = "no matches";
      else label.textContent = `${this.current + 1 || "–"} / ${this.matches.length}`;
    }

    step(direction) {
      if (!this.matches.length) return;
      this.setFollowing(false);
      this.current = (this.current + direction + this.matches.length) % this.matches.length;
      if (this.current < 0) this.current = 0;
      const match = this.matches[this.current];
      this.refreshRendered();
      this.showCount();
      this.reveal(match.line);
    }

    positionOf(index) {
      // The visible list is in log order: binary search for the line.
      let lo = 0, hi = this.visible.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (this.visible[mid] === index) return mid;
        if (this.visible[mid] < index) lo = mid + 1; else hi = mid - 1;
      }
      return -1;
    }

    reveal(index) {
      const position = this.positionOf(index);
      if (position < 0) return null;
      const block = this.blocks[Math.floor(position / BLOCK)];
      if (!block.rendered) this.renderBlock(block);
      const row = block.el.children[position - block.start];
      row.scrollIntoView({ block: "center" });
      return row;
    }

    select(n, scroll) {
      this.body.querySelectorAll(".log-line.selected").forEach((el) => el.classList.remove("selected"));
      this.selected = n;
      this.setFollowing(false);
      const index = n - 1 - this.base;
      if (index < 0 || index >= this.raw.length) return false;
      if (this.attempt !== null && this.attemptOf[index] !== this.attempt) this.showAttempt(null);
      const row = scroll ? this.reveal(index) : document.getElementById(`L${n}`);
      if (row) row.classList.add("selected");
      return true;
    }

    revealWanted() {
      if (this.wantedLine !== null && this.select(this.wantedLine, true)) this.wantedLine = null;
    }

    scrollToEnd() {
      if (this.pendingScroll) return;
      this.pendingScroll = true;
      requestAnimationFrame(() => {
        this.pendingScroll = false;
        const last = this.blocks[this.blocks.length - 1];
        if (last && !last.rendered) this.renderBlock(last);
          this.body.scrollTop = this.body.scrollHeight;
      });
    }
  }

  window.RefineryLogViewer = LogViewer;
  document.querySelectorAll(".log-viewer[data-socket]").forEach((root) => {
    root.logViewer = new LogViewer(root);
  });
})();
