// Hydra dashboard: one page served by the daemon, no framework, no build step.
//
// Rules this file keeps:
// - Data reaches the DOM only through textContent, text nodes and attributes (never innerHTML).
// - Every API call carries `Authorization: Bearer <token>` and `X-Hydra-Actor: dashboard`.
//   The token comes from the URL fragment (#token=…) once, then lives in localStorage.
// - Live updates come from /api/events read with fetch() (EventSource cannot send headers).
// - Rows are keyed and updated in place, so a refresh never steals focus or typed input.

const TOKEN_KEY = 'hydra.token';
const DAY_MS = 86_400_000;
const AUDIT_PAGE = 50;
const AUDIT_MAX_ROWS = 1000;
const RETRY_S = [0.5, 1, 2, 3, 5, 8, 10];
const SILENCE_MS = 45_000; // the feed pings every 15 s; this much silence means it is dead

const $ = (id) => document.getElementById(id);
let token = null;
let uid = 0;

// ------------------------------------------------------------------ DOM helpers
function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'value') el.value = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const kid of kids.flat()) {
    if (kid !== null && kid !== undefined && kid !== false) el.append(kid);
  }
  return el;
}

// replaceChildren() would turn a null into the text "null": skip empty slots.
function fill(el, ...kids) {
  el.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
}

function svg(tag, attrs, ...kids) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  for (const kid of kids) el.append(kid);
  return el;
}

const nextId = (prefix) => `${prefix}-${++uid}`;

function cell(label, ...kids) {
  return h('td', { 'data-label': label }, ...kids);
}

// Reuse nodes by key so focus, open forms and typed values survive a refresh.
function keyed(container, cache, items, keyOf, create) {
  const seen = new Set();
  let cursor = container.firstChild;
  for (const item of items) {
    const key = keyOf(item);
    seen.add(key);
    let entry = cache.get(key);
    if (!entry) {
      entry = create(key);
      cache.set(key, entry);
    }
    entry.update(item);
    for (const node of entry.nodes) {
      if (node === cursor) cursor = cursor.nextSibling;
      else container.insertBefore(node, cursor);
    }
  }
  for (const [key, entry] of cache) {
    if (seen.has(key)) continue;
    for (const node of entry.nodes) node.remove();
    cache.delete(key);
  }
}

// ------------------------------------------------------------------ formatting
function round(n, digits = 2) {
  return String(Number(n.toFixed(digits)));
}

function usd(n) {
  if (n === null || n === undefined) return '—';
  if (n === 0) return '$0';
  if (n < 0.01) return `$${n.toFixed(4)}`;
  return `$${n.toFixed(2)}`;
}

const int = (n) => Number(n || 0).toLocaleString('en-US');

function duration(s) {
  if (s < 120) return `${round(s)} s`;
  if (s < 7200) return `${round(s / 60, 1)} min`;
  if (s < 172_800) return `${round(s / 3600, 1)} h`;
  return `${round(s / 86_400, 1)} d`;
}

function clock(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

function relative(iso) {
  const diff = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  if (Number.isNaN(diff)) return '';
  const span = Math.abs(diff);
  const text = span < 1 ? 'now' : span < 90 ? `${span} s` : duration(span);
  if (text === 'now') return 'now';
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

// A time element that keeps its "in 42 s" / "3 min ago" text fresh (see tickClocks).
// `due`: a planned time; once passed it reads "due now" rather than "3 s ago".
function when(iso, { showClock = true, due = false } = {}) {
  if (!iso) return h('span', { class: 'muted', text: '—' });
  return h('time', {
    datetime: iso,
    title: `${iso} (UTC)`,
    'data-rel': due ? 'due' : 'past',
    'data-clock': showClock ? clock(iso) : null,
    text: label(iso, showClock, due),
  });
}

function label(iso, showClock, due) {
  let rel = relative(iso);
  if (due && new Date(iso).getTime() <= Date.now()) rel = 'due now';
  return showClock ? `${clock(iso)} (${rel})` : rel;
}

function tickClocks() {
  for (const el of document.querySelectorAll('time[data-rel]')) {
    const due = el.dataset.rel === 'due';
    el.textContent = label(el.getAttribute('datetime'), el.hasAttribute('data-clock'), due);
  }
}

function utcDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

// ------------------------------------------------------------------ notices
let noticeTimer = null;

function notify(text, tone = 'ok') {
  const el = $('notice');
  el.textContent = text;
  el.dataset.tone = tone;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    el.textContent = '';
  }, tone === 'bad' ? 20_000 : 8_000);
}

function report(err) {
  if (err instanceof ApiError && (err.status === 0 || err.status === 401)) return;
  notify(messageOf(err), 'bad');
}

function messageOf(err) {
  return err instanceof ApiError ? err.message : `unexpected error: ${err}`;
}

// ------------------------------------------------------------------ API
class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || null;
  }
}

function headers(extra) {
  return { Authorization: `Bearer ${token}`, 'X-Hydra-Actor': 'dashboard', ...extra };
}

async function api(method, path, body) {
  const init = { method, headers: headers({ Accept: 'application/json' }), cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'the daemon cannot be reached');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.status === 401) {
    showAuth('refused');
    throw new ApiError(401, 'the daemon refused the token');
  }
  if (!res.ok) {
    const message = data && typeof data.error === 'string' ? data.error : `HTTP ${res.status}`;
    throw new ApiError(res.status, message, data && data.field);
  }
  return data;
}

// Coalesce bursts of "something changed" into one request, never two at once.
function refresher(load, delay = 250) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await load();
    } catch (err) {
      report(err);
    } finally {
      running = false;
      if (again) {
        again = false;
        kick();
      }
    }
  };
  const kick = (now = false) => {
    if (timer === null) timer = setTimeout(run, now ? 0 : delay);
  };
  return kick;
}

// ------------------------------------------------------------------ asking why
// Every change is audited with a reason (or a note): this inline form asks for it.
function ask(host, opts) {
  const { title, confirm, field = 'Reason', drain = false, tone = 'primary', back } = opts;
  const input = h('input', {
    id: nextId('why'),
    type: 'text',
    maxlength: field === 'Note' ? 2000 : 500,
    autocomplete: 'off',
    required: true,
  });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const drainBox = drain ? h('input', { type: 'checkbox' }) : null;
  const submit = h('button', { type: 'submit', class: tone, text: confirm });
  const close = () => {
    host.hide();
    if (back && back.isConnected) back.focus();
  };
  const form = h(
    'form',
    { class: 'ask', novalidate: true, 'aria-label': title },
    h('p', { class: 'ask-title', text: title }),
    h('label', { for: input.id, text: `${field} (recorded in the audit trail)` }),
    input,
    drainBox && h('label', { class: 'check' }, drainBox, ' Let the running tick finish (drain)'),
    h('div', { class: 'buttons' }, submit, h('button', { type: 'button', text: 'Cancel', onclick: close })),
    err,
  );
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const why = input.value.trim();
    if (!why) {
      err.textContent = `${field} is required: say why, it goes into the audit trail.`;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    submit.disabled = true;
    try {
      await opts.onSubmit(why, drainBox ? drainBox.checked : false);
      close();
    } catch (x) {
      if (opts.onError && x instanceof ApiError && opts.onError(x)) {
        host.hide();
        return;
      }
      err.textContent = messageOf(x);
      submit.disabled = false;
    }
  });
  host.show(form);
  input.focus();
}

// ------------------------------------------------------------------ loops
const loopRows = new Map();
let globalSwitch = { enabled: true };

function loopStatus(v) {
  const sw = v.switch || {};
  if (v.plugin === 'broken') return ['broken', 'bad', v.error || 'the plugin failed to load'];
  if (v.plugin === 'blocked') return ['blocked', 'bad', v.error || v.blocked_reason];
  if (v.enabled === false && sw.reason === 'budget') {
    const b = v.budget || {};
    return [
      'off: budget',
      'bad',
      `switched off by ${sw.by || 'daemon'}: daily budget ${usd(b.daily_budget_usd)} passed ` +
        `(spent ${usd(b.spent_today_usd)} today)`,
    ];
  }
  const state = v.state;
  if (state === 'backing_off') {
    const last = v.last && (v.last.error || v.last.kind);
    const note = `${v.consecutive_failures} failure(s) in a row; waits ${duration(v.backoff_s)}`;
    return ['backing off', 'warn', last ? `${note} — ${last}` : note];
  }
  if (state === 'disabled') return ['disabled', 'off', v.blocked_reason];
  if (state === 'stopped') return ['stopped', 'bad', v.blocked_reason || 'needs an operator'];
  if (state === 'broken') return ['broken', 'bad', v.error || v.blocked_reason];
  if (state === 'running') return ['running', 'info', v.blocked_reason];
  if (state === 'waiting') return ['waiting', 'ok', v.blocked_reason];
  return [state, 'info', v.blocked_reason];
}

function resultTone(last) {
  if (last.kind !== 'finished') return 'bad';
  if (['ok', 'idle', 'noop', 'done', 'success'].includes(last.status)) return 'ok';
  if (['failed', 'error', 'crashed'].includes(last.status)) return 'bad';
  return 'warn';
}

class LoopRow {
  constructor(name) {
    this.name = name;
    this.view = null;
    const id = nextId('loop');
    this.desc = h('span', { class: 'desc' });
    this.badge = h('span', { class: 'badge' });
    this.note = h('span', { class: 'note' });
    this.switch = h('button', {
      type: 'button',
      role: 'switch',
      class: 'switch',
      'aria-label': `Enabled: ${name}`,
      onclick: () => this.askEnabled(),
    });
    this.mode = h('button', {
      type: 'button',
      role: 'switch',
      class: 'mode',
      'aria-label': `Shadow mode: ${name}`,
      onclick: () => this.askMode(),
    });
    this.input = h('input', {
      id: `${id}-iv`,
      type: 'number',
      step: 'any',
      inputmode: 'decimal',
      'aria-label': `Interval of ${name} in seconds`,
      'aria-describedby': `${id}-ivb ${id}-ive`,
      oninput: () => this.intervalError(''),
    });
    this.bounds = h('small', { id: `${id}-ivb`, class: 'bounds' });
    this.ivErr = h('span', { id: `${id}-ive`, class: 'field-error', role: 'alert' });
    this.ivSet = h('button', { type: 'submit', text: 'Set', 'aria-label': `Set interval of ${name}` });
    const ivForm = (this.ivForm = h(
      'form',
      { class: 'interval', novalidate: true, onsubmit: (e) => this.askInterval(e) },
      h('span', { class: 'iv-line' }, this.input, h('span', { 'aria-hidden': 'true', text: 's' }), this.ivSet),
      this.bounds,
      this.ivErr,
    ));
    this.last = h('div', { class: 'last' });
    this.next = h('div');
    this.fails = h('div');
    this.spend = h('div');
    this.run = h('button', {
      type: 'button',
      text: 'Run now',
      'aria-label': `Run now: ${name}`,
      onclick: () => this.trigger(),
    });
    this.tr = h(
      'tr',
      { 'data-loop': name },
      h('th', { scope: 'row', class: 'title' }, h('span', { class: 'name', text: name }), this.desc),
      cell('Status', h('span', { class: 'status' }, this.badge, this.note)),
      cell('Enabled', this.switch),
      cell('Mode', this.mode),
      cell('Interval', ivForm),
      cell('Last result', this.last),
      cell('Next tick', this.next),
      cell('Failures', this.fails),
      cell('Spend today', this.spend),
      cell('Actions', this.run),
    );
    this.askCell = h('td', { colspan: 10 });
    this.askRow = h('tr', { class: 'ask-row', hidden: true }, this.askCell);
    this.host = {
      show: (form) => {
        this.askCell.replaceChildren(form);
        this.askRow.hidden = false;
      },
      hide: () => {
        this.askCell.replaceChildren();
        this.askRow.hidden = true;
      },
    };
    this.nodes = [this.tr, this.askRow];
  }

  update(v) {
    this.view = v;
    const usable = v.enabled !== null && v.enabled !== undefined;
    this.tr.dataset.state = v.state;
    this.desc.textContent = v.description || '';
    const [text, tone, note] = loopStatus(v);
    this.badge.textContent = text;
    this.badge.dataset.tone = tone;
    this.note.textContent = note || '';
    this.badge.title = note || '';

    this.switch.setAttribute('aria-checked', String(Boolean(v.enabled)));
    this.switch.textContent = v.enabled ? 'On' : 'Off';
    const locked = !usable || v.static_enabled === false || v.plugin !== 'ok';
    this.switch.disabled = locked;
    this.switch.title = locked ? v.blocked_reason || 'cannot be switched here' : '';

    this.mode.hidden = !usable;
    this.mode.disabled = !usable || v.plugin !== 'ok';
    this.mode.setAttribute('aria-checked', String(v.mode === 'shadow'));
    this.mode.textContent = v.mode || '—';

    const [lo, hi] = v.interval_bounds || [0, Infinity];
    this.input.min = String(lo);
    this.input.max = String(hi);
    this.ivForm.hidden = !usable;
    this.input.disabled = this.ivSet.disabled = !usable || v.plugin !== 'ok';
    const shown = v.interval_s === null || v.interval_s === undefined ? '' : String(v.interval_s);
    const dirty = this.input.value !== (this.input.dataset.shown || '');
    if (document.activeElement !== this.input && !dirty) this.input.value = shown;
    this.input.dataset.shown = shown;
    this.bounds.textContent = v.interval_bounds ? `${duration(lo)} – ${duration(hi)}` : '';

    this.renderLast(v);
    fill(this.next,
      v.state === 'running' ? h('span', { class: 'muted', text: 'running now' }) : when(v.next_due_at, { due: true }),
    );
    fill(this.fails,
      h('span', { class: v.consecutive_failures ? 'warn-text' : '', text: String(v.consecutive_failures) }),
      v.backoff_s > 0 ? h('small', { class: 'muted', text: ` backoff ${duration(v.backoff_s)}` }) : null,
    );
    const b = v.budget;
    fill(this.spend,
      b ? h('span', { class: b.over_budget ? 'bad-text' : '', text: usd(b.spent_today_usd) }) : '—',
      b ? h('small', { class: 'muted', text: b.daily_budget_usd === null ? ' no cap' : ` of ${usd(b.daily_budget_usd)}` }) : null,
    );
    this.run.disabled = !v.enabled || !globalSwitch.enabled || v.plugin !== 'ok';
  }

  renderLast(v) {
    const last = v.last;
    this.last.dataset.run = last ? last.run_id || '' : '';
    if (!last) {
      fill(this.last, h('span', { class: 'muted', text: 'no tick yet' }));
      return;
    }
    const status = last.kind === 'finished' ? last.status : last.kind.replace('_', ' ');
    this.last.title = last.error || last.summary || '';
    fill(
      this.last,
      h(
        'span',
        { class: 'text' },
        h('span', { class: 'result', 'data-tone': resultTone(last), text: status }),
        last.summary ? ` ${last.summary}` : null,
        last.error && last.error !== last.summary ? h('span', { class: 'bad-text', text: ` ${last.error}` }) : null,
      ),
      h(
        'small',
        { class: 'muted block' },
        v.last_finished_at ? [when(v.last_finished_at), ' · '] : null,
        `${round(last.duration_ms, 1)} ms`,
      ),
    );
  }

  async put(body, done) {
    const view = await api('PUT', `/api/loops/${encodeURIComponent(this.name)}`, body);
    this.update(view);
    notify(view.changed ? done : `${this.name}: nothing changed.`);
  }

  askEnabled() {
    const on = Boolean(this.view && this.view.enabled);
    ask(this.host, {
      title: `Switch ${this.name} ${on ? 'off' : 'on'}`,
      confirm: on ? 'Switch off' : 'Switch on',
      tone: on ? 'danger' : 'primary',
      drain: on,
      back: this.switch,
      onSubmit: (reason, drain) =>
        this.put({ enabled: !on, reason, drain }, `${this.name} switched ${on ? 'off' : 'on'}.`),
    });
  }

  askMode() {
    const next = this.view && this.view.mode === 'shadow' ? 'live' : 'shadow';
    ask(this.host, {
      title: `Run ${this.name} in ${next} mode`,
      confirm: `Switch to ${next}`,
      back: this.mode,
      onSubmit: (reason) => this.put({ mode: next, reason }, `${this.name} now runs in ${next} mode.`),
    });
  }

  intervalError(text) {
    this.ivErr.textContent = text;
    if (text) this.input.setAttribute('aria-invalid', 'true');
    else this.input.removeAttribute('aria-invalid');
  }

  askInterval(e) {
    e.preventDefault();
    const v = this.view;
    const raw = this.input.value.trim();
    const value = Number(raw);
    const [lo, hi] = v.interval_bounds || [0, Infinity];
    if (raw === '' || !Number.isFinite(value)) {
      this.intervalError('Enter a number of seconds.');
      return;
    }
    if (value < lo || value > hi) {
      this.intervalError(`Refused: must be between ${lo} and ${hi} seconds.`);
      this.input.focus();
      return;
    }
    if (value === v.interval_s) {
      this.intervalError('');
      notify(`${this.name} already runs every ${duration(value)}.`);
      return;
    }
    this.intervalError('');
    ask(this.host, {
      title: `Run ${this.name} every ${duration(value)} (now ${duration(v.interval_s)})`,
      confirm: 'Set interval',
      back: this.input,
      onSubmit: (reason) => this.put({ interval_s: value, reason }, `${this.name} now runs every ${duration(value)}.`),
      onError: (err) => {
        if (err.status !== 422 && err.status !== 409) return false;
        this.intervalError(err.message);
        this.input.focus();
        return true;
      },
    });
  }

  async trigger() {
    try {
      const res = await api('POST', `/api/loops/${encodeURIComponent(this.name)}/trigger`);
      notify(res.merged_into_running_tick ? `${this.name} is already running.` : `${this.name} triggered.`);
    } catch (err) {
      notify(`${this.name}: ${messageOf(err)}`, 'bad');
    }
  }
}

function renderGlobal(sw) {
  globalSwitch = sw;
  const btn = $('global-btn');
  btn.hidden = false;
  btn.textContent = sw.enabled ? 'Stop all loops' : 'Resume all loops';
  btn.className = sw.enabled ? 'danger' : 'primary';
  const banner = $('global-banner');
  banner.hidden = sw.enabled;
  if (!sw.enabled) {
    fill(banner,
      h('strong', { text: 'Every loop is stopped' }),
      ` (global switch off by ${sw.by || 'unknown'}${sw.at ? ` at ${clock(sw.at)}` : ''}: ${sw.reason || 'no reason given'}).`,
    );
  }
}

const refreshLoops = refresher(async () => {
  const data = await api('GET', '/api/loops');
  renderGlobal(data.global);
  keyed($('loop-rows'), loopRows, data.loops, (v) => v.name, (name) => new LoopRow(name));
  $('loops-empty').hidden = data.loops.length > 0;
});

// ------------------------------------------------------------------ global switch
function openGlobalConfirm() {
  const stopping = globalSwitch.enabled;
  $('global-confirm-title').textContent = stopping ? 'Stop every loop?' : 'Resume every loop?';
  $('global-confirm-text').textContent = stopping
    ? 'This is the global kill-switch: no loop starts a tick until it is resumed, and running ticks are cancelled (their processes die) unless you let them finish.'
    : 'Loops that are switched on individually start ticking again.';
  $('global-yes').textContent = stopping ? 'Yes, stop every loop' : 'Yes, resume every loop';
  $('global-yes').className = stopping ? 'danger' : 'primary';
  $('global-drain-label').hidden = !stopping;
  $('global-drain').checked = false;
  $('global-error').textContent = '';
  $('global-reason').value = '';
  $('global-confirm').hidden = false;
  $('global-reason').focus();
}

function closeGlobalConfirm() {
  $('global-confirm').hidden = true;
  $('global-btn').focus();
}

async function submitGlobal(e) {
  e.preventDefault();
  const reason = $('global-reason').value.trim();
  if (!reason) {
    $('global-error').textContent = 'Reason is required: say why, it goes into the audit trail.';
    $('global-reason').focus();
    return;
  }
  const enabled = !globalSwitch.enabled;
  $('global-yes').disabled = true;
  try {
    const res = await api('PUT', '/api/switches/all', { enabled, reason, drain: $('global-drain').checked });
    renderGlobal(res.global);
    closeGlobalConfirm();
    notify(enabled ? 'Loops resumed.' : 'Every loop is stopped.', enabled ? 'ok' : 'warn');
    refreshLoops();
  } catch (err) {
    $('global-error').textContent = messageOf(err);
  } finally {
    $('global-yes').disabled = false;
  }
}

// ------------------------------------------------------------------ repositories
const repoRows = new Map();

class RepoRow {
  constructor(name) {
    this.name = name;
    this.switch = h('button', {
      type: 'button',
      role: 'switch',
      class: 'switch',
      'aria-label': `Enabled: repository ${name}`,
      onclick: () => this.askEnabled(),
    });
    this.busy = h('span');
    this.change = h('span');
    this.tr = h(
      'tr',
      { 'data-repo': name },
      h('th', { scope: 'row', class: 'title' }, h('span', { class: 'name', text: name })),
      cell('Enabled', this.switch),
      cell('Busy', this.busy),
      cell('Last change', this.change),
    );
    this.askCell = h('td', { colspan: 4 });
    this.askRow = h('tr', { class: 'ask-row', hidden: true }, this.askCell);
    this.host = {
      show: (form) => {
        this.askCell.replaceChildren(form);
        this.askRow.hidden = false;
      },
      hide: () => {
        this.askCell.replaceChildren();
        this.askRow.hidden = true;
      },
    };
    this.nodes = [this.tr, this.askRow];
  }

  update(v) {
    this.view = v;
    this.switch.setAttribute('aria-checked', String(v.enabled));
    this.switch.textContent = v.enabled ? 'On' : 'Off';
    this.busy.textContent = v.busy ? `${v.busy} tick(s) working` : 'idle';
    const sw = v.switch || {};
    fill(this.change,
      sw.by ? `${sw.enabled ? 'on' : 'off'} by ${sw.by}: ${sw.reason || '—'} ` : h('span', { class: 'muted', text: 'never changed' }),
      sw.at ? when(sw.at) : null,
    );
  }

  askEnabled() {
    const on = this.view.enabled;
    ask(this.host, {
      title: `Switch repository ${this.name} ${on ? 'off' : 'on'} for every loop`,
      confirm: on ? 'Switch off' : 'Switch on',
      tone: on ? 'danger' : 'primary',
      back: this.switch,
      onSubmit: async (reason) => {
        const res = await api('PUT', `/api/repos/${encodeURIComponent(this.name)}`, { enabled: !on, reason });
        this.update(res);
        notify(`Repository ${this.name} switched ${res.enabled ? 'on' : 'off'}.`);
      },
    });
  }
}

const refreshRepos = refresher(async () => {
  const data = await api('GET', '/api/repos');
  keyed($('repo-rows'), repoRows, data.repos, (v) => v.name, (name) => new RepoRow(name));
  $('repos-empty').hidden = data.repos.length > 0;
});

// ------------------------------------------------------------------ costs
const ZERO = { usd: 0, calls: 0, input_tokens: 0, output_tokens: 0 };

const refreshCosts = refresher(async () => {
  const now = Date.now();
  const today = utcDay(now);
  const since = `${utcDay(now - 29 * DAY_MS)}T00:00:00Z`;
  const [month, day] = await Promise.all([
    api('GET', `/api/costs?since=${encodeURIComponent(since)}`),
    api('GET', `/api/costs?since=${encodeURIComponent(`${today}T00:00:00Z`)}`),
  ]);
  renderCosts(month, day, now);
}, 500);

function totalCard(title, t) {
  return h(
    'div',
    { class: 'total' },
    h('span', { class: 'muted', text: title }),
    h('strong', { text: usd(t.usd) }),
    h('small', { text: `${int(t.calls)} calls · ${int(t.input_tokens)} in / ${int(t.output_tokens)} out tokens` }),
  );
}

function renderCosts(month, day, now) {
  $('cost-totals').replaceChildren(totalCard('Today (UTC)', day.total), totalCard('Last 30 days', month.total));
  $('cost-chart').replaceChildren(chart(month.by_day, now));

  const loops = new Set([...Object.keys(month.by_loop), ...Object.keys(month.budgets)]);
  const loopRowsHtml = [...loops].sort().map((name) => {
    const b = month.budgets[name];
    const spentToday = (day.by_loop[name] || ZERO).usd;
    return h(
      'tr',
      {},
      h('th', { scope: 'row', text: name }),
      cell('Today', h('span', { class: b && b.over_budget ? 'bad-text' : '', text: usd(spentToday) })),
      cell('30 days', usd((month.by_loop[name] || ZERO).usd)),
      cell('Daily budget', b && b.daily_budget_usd !== null ? usd(b.daily_budget_usd) : 'none'),
    );
  });
  $('cost-loops').replaceChildren(...(loopRowsHtml.length ? loopRowsHtml : [emptyRow(4, 'no loops')]));

  const sources = Object.keys(month.by_source).sort();
  $('cost-sources').replaceChildren(
    ...(sources.length
      ? sources.map((name) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row', text: name }),
            cell('Today', usd((day.by_source[name] || ZERO).usd)),
            cell('30 days', usd(month.by_source[name].usd)),
            cell('Calls (30 d)', int(month.by_source[name].calls)),
          ),
        )
      : [emptyRow(4, 'no spend recorded')]),
  );
}

function emptyRow(span, text) {
  return h('tr', {}, h('td', { colspan: span, class: 'muted', text }));
}

// Thirty bars in an SVG stretched to the width; the labels are HTML so they never stretch.
function chart(byDay, now) {
  const days = [];
  for (let i = 29; i >= 0; i--) {
    const key = utcDay(now - i * DAY_MS);
    days.push([key, (byDay[key] || ZERO).usd]);
  }
  const max = Math.max(...days.map(([, v]) => v));
  const total = days.reduce((sum, [, v]) => sum + v, 0);
  const W = 600;
  const H = 120;
  const slot = W / days.length;
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': `Daily spend over the last 30 days: ${usd(total)} in total, at most ${usd(max)} on one day`,
    preserveAspectRatio: 'none',
    class: 'bars',
  });
  days.forEach(([key, value], i) => {
    const height = max > 0 ? Math.max(value > 0 ? 2 : 0, ((H - 1) * value) / max) : 0;
    const bar = svg('rect', {
      x: (i * slot + 2).toFixed(1),
      y: (H - 1 - height).toFixed(1),
      width: (slot - 4).toFixed(1),
      height: height.toFixed(1),
      class: i === 29 ? 'bar today' : 'bar',
    });
    const title = svg('title');
    title.textContent = `${key}: ${usd(value)}`;
    bar.append(title);
    root.append(bar);
  });
  root.append(svg('line', { x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5, class: 'axis' }));
  return h(
    'div',
    {},
    h('div', { class: 'chart-max muted', text: max > 0 ? `max ${usd(max)} / day` : 'no spend in the last 30 days' }),
    root,
    h('div', { class: 'chart-axis muted' }, h('span', { text: days[0][0] }), h('span', { text: `${days[29][0]} (today)` })),
    dailyTable(days),
  );
}

// The chart's figures as text, for keyboards and screen readers (days with spend only).
function dailyTable(days) {
  const spent = days.filter(([, v]) => v > 0).reverse();
  return h(
    'details',
    { class: 'daily' },
    h('summary', { text: `Daily figures (${spent.length} day${spent.length === 1 ? '' : 's'} with spend)` }),
    h(
      'table',
      { class: 'grid compact' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'UTC day' }), h('th', { scope: 'col', text: 'Spend' }))),
      h('tbody', {}, spent.map(([key, v]) => h('tr', {}, h('td', { text: key }), h('td', { text: usd(v) })))),
    ),
  );
}

// ------------------------------------------------------------------ escalations
const escCards = new Map();

class EscalationCard {
  constructor(id) {
    this.id = id;
    this.title = h('h3');
    this.badge = h('span', { class: 'badge' });
    this.meta = h('p', { class: 'muted meta' });
    this.summary = h('p', { class: 'summary' });
    this.note = h('p', { class: 'note-line' });
    this.details = h('pre');
    this.detailsBox = h('details', {}, h('summary', { text: 'Details' }), this.details);
    this.ackBtn = h('button', { type: 'button', text: 'Acknowledge', onclick: () => this.askMove('acknowledged') });
    this.resolveBtn = h('button', { type: 'button', class: 'primary', text: 'Resolve', onclick: () => this.askMove('resolved') });
    this.askBox = h('div', { hidden: true });
    this.host = {
      show: (form) => {
        this.askBox.replaceChildren(form);
        this.askBox.hidden = false;
      },
      hide: () => {
        this.askBox.replaceChildren();
        this.askBox.hidden = true;
      },
    };
    this.li = h(
      'li',
      { class: 'card', 'data-escalation': id },
      h('div', { class: 'card-head' }, this.title, this.badge),
      this.meta,
      this.summary,
      this.note,
      this.detailsBox,
      h('div', { class: 'buttons' }, this.ackBtn, this.resolveBtn),
      this.askBox,
    );
    this.nodes = [this.li];
  }

  update(v) {
    this.view = v;
    this.title.textContent = v.title;
    this.badge.textContent = v.state;
    this.badge.dataset.tone = { open: 'bad', acknowledged: 'warn', resolved: 'ok' }[v.state] || 'info';
    this.meta.textContent = [v.id, `loop ${v.loop}`, v.repo ? `repo ${v.repo}` : null, `opened ${clock(v.created_at)}`, `updated ${clock(v.updated_at)}`]
      .filter(Boolean)
      .join(' · ');
    this.summary.textContent = v.summary;
    this.note.textContent = v.note ? `${v.state} by ${v.by || 'unknown'}: ${v.note}` : '';
    this.note.hidden = !v.note;
    const hasDetails = v.details && Object.keys(v.details).length > 0;
    this.detailsBox.hidden = !hasDetails;
    this.details.textContent = hasDetails ? JSON.stringify(v.details, null, 2) : '';
    this.ackBtn.hidden = v.state !== 'open';
    this.resolveBtn.hidden = v.state === 'resolved';
    this.ackBtn.setAttribute('aria-label', `Acknowledge ${v.id}: ${v.title}`);
    this.resolveBtn.setAttribute('aria-label', `Resolve ${v.id}: ${v.title}`);
  }

  askMove(to) {
    const verb = to === 'acknowledged' ? 'Acknowledge' : 'Resolve';
    ask(this.host, {
      title: `${verb} ${this.id}: ${this.view.title}`,
      confirm: verb,
      field: 'Note',
      back: to === 'acknowledged' ? this.resolveBtn : this.li.querySelector('summary'),
      onSubmit: async (note) => {
        const path = `/api/escalations/${encodeURIComponent(this.id)}/${to === 'acknowledged' ? 'acknowledge' : 'resolve'}`;
        this.update(await api('POST', path, { note }));
        notify(`${this.id} ${to}.`);
        refreshEscalations();
      },
    });
  }
}

const refreshEscalations = refresher(async () => {
  const filter = $('esc-filter').value;
  const states = filter === 'active' ? ['open', 'acknowledged'] : filter === 'all' ? [null] : [filter];
  let pages;
  try {
    pages = await Promise.all(
      states.map((s) => api('GET', s ? `/api/escalations?state=${s}` : '/api/escalations')),
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      $('esc-empty').textContent = err.message;
      $('esc-empty').hidden = false;
      return;
    }
    throw err;
  }
  const items = pages.flatMap((p) => p.escalations);
  const num = (v) => Number(String(v.id).split('-')[1]) || 0;
  items.sort((a, b) => num(b) - num(a));
  keyed($('esc-list'), escCards, items, (v) => v.id, (id) => new EscalationCard(id));
  $('esc-empty').textContent = 'Nothing needs a person right now.';
  $('esc-empty').hidden = items.length > 0;
  const open = items.filter((v) => v.state === 'open').length;
  $('esc-title').textContent = open ? `Escalations (${open} open)` : 'Escalations';
});

// ------------------------------------------------------------------ audit viewer
const audit = { stream: null, filters: {}, nextBefore: null, rows: 0, loaded: false, gen: 0 };

function auditFilters() {
  const actions = $('audit-action')
    .value.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return { actions, run: $('audit-run').value.trim(), actor: $('audit-actor').value.trim() };
}

function auditQuery(before) {
  const q = new URLSearchParams({ limit: String(AUDIT_PAGE) });
  for (const a of audit.filters.actions) q.append('action', a);
  if (audit.filters.run) q.set('run', audit.filters.run);
  if (audit.filters.actor) q.set('actor', audit.filters.actor);
  if (before) q.set('before_seq', String(before));
  return `/api/audit/${encodeURIComponent(audit.stream)}?${q}`;
}

function matches(record) {
  const f = audit.filters;
  if (record.stream !== audit.stream) return false;
  if (f.run && record.run !== f.run) return false;
  if (f.actor && record.actor !== f.actor) return false;
  if (!f.actions.length) return true;
  return f.actions.some((a) => (a.endsWith('.*') ? String(record.action).startsWith(a.slice(0, -1)) : record.action === a));
}

function auditRow(r) {
  const compact = JSON.stringify(r.payload ?? null);
  return h(
    'tr',
    { 'data-seq': r.seq },
    cell('Seq', String(r.seq)),
    cell('Time', h('time', { datetime: r.ts, title: `${r.ts} (UTC)`, text: clock(r.ts) })),
    cell('Actor', r.actor || ''),
    cell('Action', h('code', { text: r.action || '' })),
    cell('Run', r.run ? h('code', { class: 'run', text: r.run }) : ''),
    cell(
      'Payload',
      h(
        'details',
        {},
        h('summary', { text: compact.length > 120 ? `${compact.slice(0, 117)}…` : compact }),
        h('pre', { text: JSON.stringify(r, null, 2) }),
      ),
    ),
  );
}

async function loadAudit(older) {
  if (!audit.stream) return;
  // A newer request (another stream, other filters) makes the answers of older ones moot.
  const gen = older ? audit.gen : ++audit.gen;
  $('audit-error').textContent = '';
  let page;
  try {
    page = await api('GET', auditQuery(older ? audit.nextBefore : null));
  } catch (err) {
    if (gen === audit.gen) $('audit-error').textContent = messageOf(err);
    return;
  }
  if (gen !== audit.gen) return;
  const rows = page.records.map(auditRow);
  if (older) $('audit-rows').append(...rows);
  else $('audit-rows').replaceChildren(...rows);
  audit.rows = $('audit-rows').rows.length;
  audit.nextBefore = page.next_before_seq;
  audit.loaded = true;
  $('audit-older').hidden = audit.nextBefore === null;
  $('audit-empty').hidden = audit.rows > 0;
}

function followAudit(record) {
  if (!$('audit-follow').checked || !audit.loaded || !matches(record)) return;
  const body = $('audit-rows');
  const first = body.rows[0];
  if (first && Number(first.dataset.seq) >= record.seq) return;
  body.prepend(auditRow(record));
  while (body.rows.length > AUDIT_MAX_ROWS) {
    body.lastElementChild.remove();
    audit.nextBefore = Number(body.lastElementChild.dataset.seq);
    $('audit-older').hidden = false;
  }
  $('audit-empty').hidden = true;
}

const refreshStreams = refresher(async () => {
  const data = await api('GET', '/api/audit/streams');
  const select = $('audit-stream');
  const current = select.value || audit.stream || 'control';
  const options = data.streams.map((s) =>
    h('option', { value: s.stream, text: `${s.stream} (${int(s.records)} record${s.records === 1 ? '' : 's'})` }),
  );
  select.replaceChildren(...options);
  if (data.streams.some((s) => s.stream === current)) select.value = current;
  if (!audit.stream && select.value) {
    audit.stream = select.value;
    audit.filters = auditFilters();
    await loadAudit(false);
  }
}, 2000);

function applyAuditForm(e) {
  if (e) e.preventDefault();
  audit.stream = $('audit-stream').value;
  audit.filters = auditFilters();
  loadAudit(false);
}

// ------------------------------------------------------------------ live feed (SSE over fetch)
const feed = { ctl: null, attempt: 0, retryTimer: null, countdown: null, silence: null, lost: false, startedAt: null };

function setConn(state, text) {
  const el = $('conn');
  el.dataset.state = state;
  el.textContent = text;
}

function connect() {
  clearTimeout(feed.retryTimer);
  if (feed.ctl) feed.ctl.abort();
  const ctl = new AbortController();
  feed.ctl = ctl;
  setConn('connecting', feed.lost ? 'reconnecting…' : 'connecting…');
  readFeed(ctl).then(
    () => onFeedEnd(ctl),
    () => onFeedEnd(ctl),
  );
}

async function readFeed(ctl) {
  const res = await fetch('/api/events', { headers: headers({ Accept: 'text/event-stream' }), cache: 'no-store', signal: ctl.signal });
  if (res.status === 401) {
    ctl.abort();
    showAuth('refused');
    return;
  }
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = { type: 'message', data: [] };
  const watch = () => {
    clearTimeout(feed.silence);
    feed.silence = setTimeout(() => ctl.abort(), SILENCE_MS);
  };
  watch();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    watch();
    buffer += value;
    // text/event-stream lines end in \r\n, \n or \r; a lone \r at the end may be half of \r\n.
    let match;
    while ((match = /\r\n|\n|\r(?!$)/.exec(buffer))) {
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      if (line === '') {
        if (event.data.length) dispatch(event.type, event.data.join('\n'));
        event = { type: 'message', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue; // comment: keep-alive ping
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? '' : line.slice(colon + 1);
      if (val.startsWith(' ')) val = val.slice(1);
      if (name === 'event') event.type = val;
      else if (name === 'data') event.data.push(val);
    }
  }
}

function onFeedEnd(ctl) {
  clearTimeout(feed.silence);
  if (ctl !== feed.ctl || !token || !$('auth').hidden) return;
  feed.ctl = null;
  feed.lost = true;
  const delay = RETRY_S[Math.min(feed.attempt, RETRY_S.length - 1)] * (0.8 + Math.random() * 0.4);
  feed.attempt += 1;
  setConn('lost', 'offline');
  $('offline-banner').hidden = false;
  $('app').dataset.stale = 'true';
  const due = Date.now() + delay * 1000;
  const show = () => {
    const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
    $('offline-text').textContent = `The connection to the daemon is lost. Retrying in ${left} s…`;
  };
  show();
  clearInterval(feed.countdown);
  feed.countdown = setInterval(show, 1000);
  feed.retryTimer = setTimeout(connect, delay * 1000);
}

function onConnected(hello) {
  clearInterval(feed.countdown);
  feed.attempt = 0;
  $('offline-banner').hidden = true;
  delete $('app').dataset.stale;
  setConn('live', 'live');
  const restarted = feed.startedAt !== null && hello.started_at !== feed.startedAt;
  if (feed.lost || restarted) {
    refreshAll();
    if (restarted) notify('The daemon restarted.', 'warn');
  } else {
    // Close the gap between the first load and the feed's start (requests merge if pending).
    refreshLoops();
    refreshEscalations();
  }
  feed.lost = false;
  feed.startedAt = hello.started_at;
}

function dispatch(type, data) {
  let payload;
  try {
    payload = JSON.parse(data);
  } catch {
    return;
  }
  if (type === 'hello') onConnected(payload);
  else if (type === 'lagged') refreshAll();
  else if (type === 'audit') onRecord(payload);
}

function onRecord(record) {
  const stream = record.stream;
  const action = String(record.action || '');
  if (stream === 'control') {
    if (action.startsWith('repo.')) refreshRepos();
    else {
      refreshLoops();
      refreshCosts(); // the per-loop table shows each loop's daily cap
    }
  } else if (stream === 'costs') {
    refreshCosts();
    refreshLoops();
  } else if (stream === 'escalations') {
    refreshEscalations();
  } else if (loopRows.has(stream)) {
    refreshLoops();
  }
  if (![...$('audit-stream').options].some((o) => o.value === stream) || stream === $('audit-stream').value) {
    refreshStreams();
  }
  followAudit(record);
}

// ------------------------------------------------------------------ token and start-up
function readToken() {
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (match) {
    let fresh = match[1];
    try {
      fresh = decodeURIComponent(fresh).trim();
    } catch {
      fresh = fresh.trim();
    }
    history.replaceState(null, '', location.pathname + location.search);
    if (fresh) {
      localStorage.setItem(TOKEN_KEY, fresh);
      return fresh;
    }
  }
  return localStorage.getItem(TOKEN_KEY);
}

function showAuth(why) {
  $('auth-why').textContent =
    why === 'refused'
      ? 'The daemon refused the stored token (401). It may have been started with a new one: open the link it printed last.'
      : 'No API token is stored in this browser yet.';
  $('auth').hidden = false;
  $('app').hidden = true;
  $('global-btn').hidden = true;
  $('global-banner').hidden = true;
  $('global-confirm').hidden = true;
  $('offline-banner').hidden = true;
  $('footer').hidden = !localStorage.getItem(TOKEN_KEY);
  setConn('off', why === 'refused' ? 'token refused' : 'no token');
  if (feed.ctl) feed.ctl.abort();
  feed.ctl = null;
  clearTimeout(feed.retryTimer);
  clearInterval(feed.countdown);
}

function refreshAll() {
  refreshLoops(true);
  refreshRepos(true);
  refreshCosts(true);
  refreshEscalations(true);
  refreshStreams(true);
  if (audit.stream) loadAudit(false);
}

async function start() {
  token = readToken();
  if (!token) {
    showAuth('missing');
    return;
  }
  try {
    await api('GET', '/api/loops');
  } catch (err) {
    if (err.status === 401) return;
    if (err.status === 0) notify('The daemon cannot be reached; retrying.', 'bad');
  }
  $('auth').hidden = true;
  $('app').hidden = false;
  $('footer').hidden = false;
  feed.startedAt = null;
  feed.lost = false;
  feed.attempt = 0;
  refreshAll();
  connect();
}

function init() {
  $('global-btn').addEventListener('click', openGlobalConfirm);
  $('global-confirm').addEventListener('submit', submitGlobal);
  $('global-no').addEventListener('click', closeGlobalConfirm);
  $('global-confirm').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') closeGlobalConfirm();
  });
  $('retry-btn').addEventListener('click', () => {
    feed.attempt = 0;
    connect();
  });
  $('forget-btn').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    token = null;
    showAuth('missing');
  });
  $('auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $('auth-token').value.trim();
    if (!value) return;
    localStorage.setItem(TOKEN_KEY, value);
    $('auth-token').value = '';
    start();
  });
  $('esc-filter').addEventListener('change', () => refreshEscalations(true));
  $('audit-form').addEventListener('submit', applyAuditForm);
  $('audit-stream').addEventListener('change', () => applyAuditForm());
  $('audit-older').addEventListener('click', () => loadAudit(true));
  window.addEventListener('hashchange', () => {
    if (/token=/.test(location.hash)) start();
  });
  setInterval(tickClocks, 1000);
  start();
}

init();
