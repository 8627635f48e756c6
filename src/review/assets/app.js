// pingyi review page. Every piece of data (OCR'd text, names, notes) is put on the page with
// textContent, never as HTML: a name read from paper must not be able to run script.
'use strict';

const $ = (id) => document.getElementById(id);
const REVIEWER_KEY = 'pingyi.reviewer';

const state = {
  items: [],
  pos: 0,
  reviewer: localStorage.getItem(REVIEWER_KEY) || '',
  pending: null, // a choice waiting for its note
  busy: false,
  history: [], // flag ids decided in this session, newest last (for `u` on an undecided item)
};

async function api(method, url, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    return { status: 0, data: { error: '无法连接复核服务器,请确认 pingyi review 仍在运行。' } };
  }
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (res.status === 401) {
    data = { error: '访问令牌无效或已过期:请使用 pingyi review 打印的完整网址重新打开。' };
  }
  return { status: res.status, data };
}

function say(text, kind) {
  const m = $('message');
  m.textContent = text || '';
  m.className = kind || '';
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function current() { return state.items[state.pos] || null; }

async function loadQueue(keepId) {
  const all = $('show-all').checked ? '1' : '0';
  const r = await api('GET', '/api/queue?all=' + all);
  if (r.status !== 200 || !r.data) {
    say((r.data && r.data.error) || '无法载入复核队列。', 'error');
    return;
  }
  $('batch').textContent = '批次:' + r.data.batch;
  state.items = r.data.items;
  const at = keepId === undefined ? -1 : state.items.findIndex((i) => i.id === keepId);
  state.pos = at >= 0 ? at : 0;
  render();
}

function renderProgress() {
  const open = state.items.filter((i) => i.open).length;
  $('progress').textContent = '待处理 ' + open + ' / 共 ' + state.items.length;
}

function renderQueue() {
  const list = $('queue-list');
  list.replaceChildren();
  state.items.forEach((item, i) => {
    const li = el('li', item.kind_label + ' · ' + item.title);
    li.dataset.id = String(item.id);
    if (i === state.pos) li.classList.add('current');
    if (!item.open) li.classList.add('done');
    li.addEventListener('click', () => { state.pos = i; closeNote(); render(); });
    list.appendChild(li);
  });
  const cur = list.children[state.pos];
  if (cur) cur.scrollIntoView({ block: 'nearest' });
}

// Crops are fetched (not just <img src>) to read X-Crop-Rect, the page rectangle the crop
// was cut from, so the boxes can be drawn over it. Kept by flag id; the next items are
// fetched ahead so moving on is instant.
const crops = new Map();

function fetchCrop(item) {
  if (!item || !item.crop) return Promise.resolve(null);
  if (!crops.has(item.id)) {
    const p = fetch(item.crop, { credentials: 'same-origin' }).then(async (res) => {
      if (!res.ok) {
        let msg = '无法载入图像';
        try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
        return { error: msg };
      }
      const rect = (res.headers.get('X-Crop-Rect') || '').split(' ').map(Number);
      const url = URL.createObjectURL(await res.blob());
      return { url, rect: rect.length === 4 && rect.every((n) => Number.isFinite(n)) ? rect : null };
    }).catch(() => ({ error: '无法载入图像' }));
    crops.set(item.id, p);
  }
  return crops.get(item.id);
}

function prefetch() {
  for (let k = 1; k <= 3; k++) fetchCrop(state.items[state.pos + k]);
}

async function renderCrop(item) {
  const img = $('crop');
  const overlay = $('overlay');
  overlay.replaceChildren();
  img.removeAttribute('src');
  $('crop-error').textContent = '';
  $('crop-wrap').hidden = true;
  const got = await fetchCrop(item);
  if (current() !== item || !got) return; // moved on meanwhile
  if (got.error) { $('crop-error').textContent = got.error; return; }
  img.src = got.url;
  $('crop-wrap').hidden = false;
  if (!got.rect) return;
  const [x, y, w, h] = got.rect;
  const place = (px, cls) => {
    const b = el('div', null, 'box ' + cls);
    b.style.left = ((px[0] - x) / w * 100) + '%';
    b.style.top = ((px[1] - y) / h * 100) + '%';
    b.style.width = (px[2] / w * 100) + '%';
    b.style.height = (px[3] / h * 100) + '%';
    overlay.appendChild(b);
    return b;
  };
  // On a name row the cells are context: outlined, but only the name box is the question.
  const scores = item.kind !== 'name_check';
  for (const c of item.cells) {
    const b = place(c.px, c.class);
    if (scores) b.appendChild(el('span', c.score.toFixed(2)));
  }
  if (item.area) place(item.area, 'area');
}

function renderCells(item) {
  const body = $('cells-body');
  body.replaceChildren();
  // A name row's cells are context in the crop; the table would push the choices away.
  $('cells').hidden = item.cells.length === 0 || item.kind === 'name_check';
  for (const c of item.cells) {
    const tr = el('tr', null, c.class);
    tr.appendChild(el('td', c.label));
    tr.appendChild(el('td', c.score.toFixed(3)));
    tr.appendChild(el('td', c.class_label));
    body.appendChild(tr);
  }
}

function renderChoices(item) {
  const box = $('choices');
  box.replaceChildren();
  const chosen = item.decision ? item.decision.value : null;
  for (const ch of item.choices) {
    const b = el('button');
    b.type = 'button';
    b.dataset.value = ch.value;
    if (ch.key) b.appendChild(el('kbd', ch.key));
    b.appendChild(document.createTextNode(ch.label));
    if (ch.value === chosen) b.classList.add('chosen');
    if (ch.value === item.accept) b.classList.add('machine');
    b.addEventListener('click', () => choose(ch));
    box.appendChild(b);
  }
}

function render() {
  renderProgress();
  renderQueue();
  const item = current();
  $('empty').hidden = item !== null;
  $('card').hidden = item === null;
  if (!item) return;
  const kind = $('kind');
  kind.textContent = item.kind_label;
  kind.className = 'kind ' + item.kind;
  $('position').textContent = '第 ' + (state.pos + 1) + ' / ' + state.items.length + ' 项';
  $('where').textContent = item.where;
  $('title').textContent = item.title;
  $('detail').textContent = item.detail;
  $('machine-note').textContent = item.machine_note && item.machine_note !== item.detail
    ? '机器记录:' + item.machine_note : '';
  renderCrop(item);
  prefetch();
  $('page-link').href = item.page_image;
  renderCells(item);
  $('text-row').hidden = !item.text;
  if (item.text) {
    $('text-label').textContent = item.text.label;
    $('text').textContent = item.text.value;
  }
  $('machine').textContent = item.machine_label;
  $('decision-row').hidden = !item.decision;
  if (item.decision) {
    $('decision').textContent = item.decision.label;
    const note = item.decision.note ? '(' + item.decision.note + ')' : '';
    $('decision-by').textContent = note + ' — ' + item.decision.reviewer + ' ' + item.decision.at;
  }
  $('accept').disabled = item.accept === null;
  renderChoices(item);
}

function replaceItem(fresh) {
  const i = state.items.findIndex((x) => x.id === fresh.id);
  if (i >= 0) state.items[i] = fresh;
}

function advance() {
  // The next item still open after this one, wrapping; stay put when all are done.
  const n = state.items.length;
  for (let step = 1; step <= n; step++) {
    const i = (state.pos + step) % n;
    if (state.items[i].open) { state.pos = i; return; }
  }
}

function move(delta) {
  if (state.items.length === 0) return;
  closeNote();
  state.pos = Math.min(state.items.length - 1, Math.max(0, state.pos + delta));
  say('');
  render();
}

function openNote(choice) {
  state.pending = choice;
  $('note-label').textContent = choice.note_prompt || '说明';
  $('note').value = '';
  $('note-row').hidden = false;
  $('note').focus();
}

function closeNote() {
  state.pending = null;
  $('note-row').hidden = true;
  if (document.activeElement === $('note')) $('note').blur();
}

function askReviewer() {
  $('who-input').value = state.reviewer;
  $('who').showModal();
  $('who-input').focus();
}

async function send(url, body, okText) {
  if (state.busy) return false;
  state.busy = true;
  try {
    const r = await api('POST', url, body);
    if (r.status === 200 && r.data && r.data.item) {
      replaceItem(r.data.item);
      say(okText + '(已保存,版本 ' + r.data.version + ')', 'ok');
      return true;
    }
    if (r.status === 409 && r.data && r.data.item) {
      replaceItem(r.data.item);
      say(r.data.error, 'error');
      render();
      return false;
    }
    say((r.data && r.data.error) || ('保存失败(HTTP ' + r.status + ')'), 'error');
    return false;
  } finally {
    state.busy = false;
  }
}

async function decide(choice, note) {
  const item = current();
  if (!item) return;
  if (!state.reviewer) { askReviewer(); return; }
  const ok = await send('/api/flags/' + item.id + '/decision',
    { reviewer: state.reviewer, value: choice.value, note: note || '', version: item.version },
    '已记录:' + choice.label);
  if (ok) {
    state.history.push(item.id);
    advance();
    render();
  }
}

function choose(choice) {
  if (choice.note) { openNote(choice); return; }
  closeNote();
  decide(choice, '');
}

function accept() {
  const item = current();
  if (!item) return;
  if (item.accept === null) { say('机器没有可接受的读数:请选择一个选项。', 'error'); return; }
  const choice = item.choices.find((c) => c.value === item.accept);
  if (choice) choose(choice);
}

async function undo() {
  let item = current();
  if (!item) return;
  if (!state.reviewer) { askReviewer(); return; }
  if (!item.decision) {
    // Undo the last decision of this session: go back to it first.
    const id = state.history.pop();
    const i = id === undefined ? -1 : state.items.findIndex((x) => x.id === id);
    if (i < 0) { say('此项没有可撤销的决定。', 'error'); return; }
    state.pos = i;
    item = state.items[i];
    render();
    if (!item.decision) return;
  }
  const ok = await send('/api/flags/' + item.id + '/undo',
    { reviewer: state.reviewer, version: item.version }, '已撤销');
  if (ok) render();
}

function onKey(e) {
  if (e.ctrlKey || e.altKey || e.metaKey) return;
  if ($('who').open) return;
  if (e.target === $('note')) {
    if (e.key === 'Enter' && state.pending) {
      e.preventDefault();
      const choice = state.pending;
      const note = $('note').value.trim();
      if (choice.note === 'required' && !note) { say('请填写说明后再提交。', 'error'); return; }
      closeNote();
      decide(choice, note);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      closeNote();
    }
    return;
  }
  if (e.target instanceof HTMLInputElement) return;
  const item = current();
  if (e.key === 'ArrowRight' || e.key === 'j') { e.preventDefault(); move(1); return; }
  if (e.key === 'ArrowLeft' || e.key === 'k') { e.preventDefault(); move(-1); return; }
  if (!item) return;
  if (e.key === 'Enter') { e.preventDefault(); accept(); return; }
  if (e.key === 'u') { e.preventDefault(); undo(); return; }
  if (e.key === 'Escape') { closeNote(); return; }
  const choice = item.choices.find((c) => c.key === e.key);
  if (choice) { e.preventDefault(); choose(choice); }
}

function init() {
  $('reviewer-name').textContent = state.reviewer || '(未设置)';
  $('who-form').addEventListener('submit', () => {
    const name = $('who-input').value.trim();
    if (!name) return;
    state.reviewer = name;
    localStorage.setItem(REVIEWER_KEY, name);
    $('reviewer-name').textContent = name;
  });
  $('change-reviewer').addEventListener('click', askReviewer);
  $('show-all').addEventListener('change', () => { const c = current(); loadQueue(c ? c.id : undefined); });
  $('prev').addEventListener('click', () => move(-1));
  $('next').addEventListener('click', () => move(1));
  $('accept').addEventListener('click', accept);
  $('undo').addEventListener('click', undo);
  $('note-submit').addEventListener('click', () => {
    if (!state.pending) return;
    const choice = state.pending;
    const note = $('note').value.trim();
    if (choice.note === 'required' && !note) { say('请填写说明后再提交。', 'error'); return; }
    closeNote();
    decide(choice, note);
  });
  $('note-cancel').addEventListener('click', closeNote);
  document.addEventListener('keydown', onKey);
  if (!state.reviewer) askReviewer();
  loadQueue();
}

init();
