// The rcos cluster dashboard: polls /api/status about once a second and redraws the
// tables in place (rows are kept by node name and job id, so buttons stay where they
// are). Everything from the cluster is set as text, never as HTML.
'use strict';

const POLL_MS = 1000;
const MAX_ENDED_SHOWN = 20;
const MAX_WAITING_SHOWN = 5;
const ACTIVE = new Set(['waiting', 'running']);

const $ = (id) => document.getElementById(id);

let timer = null;
let sequence = 0;
let shown = 0;

function formatDuration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m % 60).padStart(2, '0')} m`;
}

function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function badge(el, state) {
  setText(el, state.replace('_', ' '));
  el.className = `badge ${state}`;
}

function makeRow(columns) {
  const tr = document.createElement('tr');
  for (const cls of columns) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  return tr;
}

// Makes `tbody` hold one row per item, in order, reusing rows with the same key.
function syncRows(tbody, items, key, build, update) {
  const existing = new Map();
  for (const tr of Array.from(tbody.rows)) existing.set(tr.dataset.key, tr);
  let previous = null;
  for (const item of items) {
    const k = String(key(item));
    let tr = existing.get(k);
    if (tr) {
      existing.delete(k);
    } else {
      tr = build(item);
      tr.dataset.key = k;
    }
    update(tr, item);
    const wanted = previous ? previous.nextSibling : tbody.firstChild;
    if (wanted !== tr) tbody.insertBefore(tr, wanted);
    previous = tr;
  }
  for (const tr of existing.values()) tr.remove();
  $(`${tbody.parentElement.id}-empty`).hidden = items.length > 0;
}

function showMessage(text, kind) {
  const el = $('message');
  el.textContent = text;
  el.className = kind;
  el.hidden = false;
  clearTimeout(showMessage.timer);
  showMessage.timer = setTimeout(() => { el.hidden = true; }, 6000);
}

async function act(button, url, what) {
  button.disabled = true;
  try {
    const response = await fetch(url, { method: 'POST', cache: 'no-store' });
    if (response.ok) {
      showMessage(`${what}: done`, 'info');
    } else {
      const body = await response.json().catch(() => ({}));
      showMessage(`${what}: ${body.error || `${response.status} ${response.statusText}`}`, 'error');
    }
  } catch (e) {
    showMessage(`${what}: cannot reach the cluster client (${e.message})`, 'error');
  } finally {
    button.disabled = false;
    refresh();
  }
}

function nodeRow() {
  const tr = makeRow(['name', 'location', '', 'slots', 'num', 'num', 'platform', 'num', 'num', 'actions']);
  tr.cells[2].appendChild(document.createElement('span'));
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.appendChild(document.createElement('div'));
  const label = document.createElement('span');
  tr.cells[3].append(label, bar);
  const button = document.createElement('button');
  button.type = 'button';
  button.addEventListener('click', () => {
    const name = tr.dataset.key;
    const verb = button.dataset.action;
    act(button, `api/nodes/${encodeURIComponent(name)}/${verb}`, `${verb} node ${name}`);
  });
  tr.cells[9].appendChild(button);
  return tr;
}

function updateNode(tr, node) {
  tr.dataset.node = node.name;
  tr.dataset.state = node.state;
  const c = tr.cells;
  setText(c[0], node.name);
  setText(c[1], node.location);
  badge(c[2].firstChild, node.state);
  setText(c[3].firstChild, `${node.busy} / ${node.slots}`);
  const fill = node.slots > 0 ? Math.min(100, (100 * node.busy) / node.slots) : 0;
  c[3].lastChild.firstChild.style.width = `${fill}%`;
  setText(c[4], String(node.running));
  setText(c[5], String(node.done));
  setText(c[6], node.platform || '–');
  // null: the node has not measured it (yet), or cannot.
  setText(c[7], node.cpu_available == null ? 'unknown' : `${node.cpu_available.toFixed(0)} %`);
  setText(c[8], node.memory_available == null ? 'unknown' : formatBytes(node.memory_available));
  const button = c[9].firstChild;
  const verb = node.state === 'suspended' ? 'resume' : 'suspend';
  button.dataset.action = verb;
  setText(button, verb === 'resume' ? 'Resume' : 'Suspend');
  button.hidden = !(node.state === 'initialised' || node.state === 'suspended');
}

function jobRow(active) {
  return () => {
    const tr = makeRow(['num', 'task', 'node', '', 'num', 'num', active ? 'actions' : 'outcome']);
    tr.cells[3].appendChild(document.createElement('span'));
    if (active) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'danger';
      button.dataset.action = 'terminate';
      button.textContent = 'Terminate';
      button.addEventListener('click', () => {
        const id = tr.dataset.key;
        act(button, `api/jobs/${encodeURIComponent(id)}/terminate`, `terminate job ${id}`);
      });
      tr.cells[6].appendChild(button);
    }
    return tr;
  };
}

// `names` maps node locations to node names: jobs name their node by location.
function updateJob(now, names) {
  return (tr, job) => {
    tr.dataset.job = String(job.id);
    tr.dataset.state = job.state;
    const c = tr.cells;
    setText(c[0], String(job.id));
    setText(c[1], job.task);
    setText(c[2], names.get(job.node) || job.node || '–');
    c[2].title = job.node;
    badge(c[3].firstChild, job.state);
    setText(c[4], job.started_ms === null ? '–' : `+${formatDuration(job.started_ms)}`);
    let duration = job.duration_ms;
    if (duration === null && job.started_ms !== null && ACTIVE.has(job.state)) {
      duration = Math.max(0, now - job.started_ms);
    }
    setText(c[5], formatDuration(duration));
    if (!ACTIVE.has(job.state)) {
      setText(c[6], job.outcome || '');
      c[6].title = job.outcome || '';
    }
  };
}

function render(snapshot) {
  const nodes = snapshot.nodes;
  const jobs = snapshot.jobs;
  const active = jobs.filter((j) => ACTIVE.has(j.state));
  const ended = jobs.filter((j) => !ACTIVE.has(j.state));
  const taking = nodes.filter((n) => n.state === 'initialised');
  let slots = 0;
  let busy = 0;
  for (const n of nodes) {
    if (n.state === 'initialised' || n.state === 'suspended') {
      slots += n.slots;
      busy += n.busy;
    }
  }
  setText($('sum-nodes'), `${taking.length} / ${nodes.length}`);
  setText($('sum-slots'), `${busy} / ${slots}`);
  setText($('sum-running'), String(active.filter((j) => j.state === 'running').length));
  setText($('sum-waiting'), String(active.filter((j) => j.state === 'waiting').length));
  setText($('sum-ended'), String(nodes.reduce((sum, n) => sum + n.done, 0)));
  setText($('sum-uptime'), formatDuration(snapshot.now_ms));

  syncRows($('nodes').tBodies[0], nodes, (n) => n.name, nodeRow, updateNode);
  const names = new Map(nodes.map((n) => [n.location, n.name]));
  const update = updateJob(snapshot.now_ms, names);
  // Every running job, and the first few waiting ones (there may be thousands).
  const waiting = active.filter((j) => j.state === 'waiting');
  const shownActive = active.filter((j) => j.state !== 'waiting').concat(waiting.slice(0, MAX_WAITING_SHOWN));
  syncRows($('running-jobs').tBodies[0], shownActive, (j) => j.id, jobRow(true), update);
  const moreWaiting = $('running-jobs-more');
  moreWaiting.hidden = waiting.length <= MAX_WAITING_SHOWN;
  setText(moreWaiting, `And ${waiting.length - MAX_WAITING_SHOWN} more jobs waiting for a slot.`);
  syncRows($('finished-jobs').tBodies[0], ended.slice(0, MAX_ENDED_SHOWN), (j) => j.id, jobRow(false), update);
  const more = $('finished-jobs-more');
  more.hidden = ended.length <= MAX_ENDED_SHOWN;
  setText(more, `The ${MAX_ENDED_SHOWN} that ended last are shown, of ${ended.length}.`);

  setText($('updated'), new Date().toLocaleTimeString());
  shown += 1;
  document.body.dataset.updates = String(shown);
}

function setConnection(ok, why) {
  const el = $('connection');
  el.dataset.state = ok ? 'live' : 'lost';
  setText(el, ok ? 'live' : `no answer from the client${why ? ` (${why})` : ''}`);
}

async function refresh() {
  clearTimeout(timer);
  const mine = ++sequence;
  try {
    const response = await fetch('api/status', { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const snapshot = await response.json();
    if (mine === sequence) {
      render(snapshot);
      setConnection(true);
    }
  } catch (e) {
    if (mine === sequence) setConnection(false, e.message);
  } finally {
    if (mine === sequence) timer = setTimeout(refresh, POLL_MS);
  }
}

refresh();
