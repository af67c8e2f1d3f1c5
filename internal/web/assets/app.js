// The dashboard's entry point: who the caller is, sign-in, and the views.

import {$, h} from './dom.js';
import {get, token, setUnauthorizedHandler} from './api.js';
import * as overview from './overview.js';
import * as pods from './pods.js';
import * as strategies from './strategies.js';
import * as audit from './audit.js';

const views = {overview, pods, strategies, audit};
const OPEN_KEY = 'bss-api-open'; // not a credential: "this server needs none"
let current = null;
let statusTimer = 0;

function setStatus(msg) {
  $('status').textContent = msg;
  clearTimeout(statusTimer);
  if (msg) statusTimer = setTimeout(() => ($('status').textContent = ''), 8000);
}

function viewName() {
  const name = location.hash.replace(/^#\/?/, '');
  return name in views ? name : 'overview';
}

// route shows the view the location names. pending, when given, is that
// view's load already under way.
async function route(pending) {
  const name = viewName();
  if (current && current !== name) views[current].hide?.();
  current = name;
  for (const v of Object.keys(views)) $('view-' + v).hidden = v !== name;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = name.charAt(0).toUpperCase() + name.slice(1) + ' · bss-api';
  try {
    await (pending || views[name].show());
  } catch (e) {
    setStatus(e.message);
  }
  // The view's data is on screen: tests and curious people can read how
  // long the first one took.
  if (!document.documentElement.dataset.rendered) {
    performance.mark('bss-rendered');
    document.documentElement.dataset.rendered = String(Math.round(performance.now()));
  }
  document.documentElement.dataset.view = name;
}

const onHash = () => route();

function showLogin(message) {
  for (const v of Object.keys(views)) $('view-' + v).hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('whoami').textContent = 'not signed in';
  $('signout').hidden = true;
  $('token').focus();
}

// start asks the server who the caller is, then shows the views, or the
// sign-in form when the server wants a credential the tab does not have.
async function start() {
  // A tab that has a token, or found last time that the server needs
  // none, loads its first view while it asks who it is (the strategies
  // view waits: what it offers depends on the answer).
  const eager = (token.get() || sessionStorage.getItem(OPEN_KEY)) && viewName() !== 'strategies';
  const pending = eager ? views[viewName()].show().catch(() => {}) : null;
  let who;
  try {
    who = await get('/api/v1/auth/whoami');
  } catch (e) {
    setStatus('Cannot ask the server who you are: ' + e.message);
    return;
  }
  if (who.credentials_required && !who.authenticated) {
    const had = token.get() !== '';
    token.clear();
    showLogin(had ? 'The token was not accepted.' : '');
    return;
  }
  if (who.credentials_required) sessionStorage.removeItem(OPEN_KEY);
  else sessionStorage.setItem(OPEN_KEY, '1');
  $('login').hidden = true;
  $('node').textContent = who.node ? '· ' + who.node : '';
  const role = who.role || 'RBAC';
  $('whoami').replaceChildren(h('span', {}, who.identity + ' · ' + role));
  $('whoami').title = 'credential: ' + who.credential;
  $('signout').hidden = !token.get();
  strategies.init(who, setStatus);
  window.addEventListener('hashchange', onHash);
  await route(pending);
}

function boot() {
  overview.init();
  pods.init();
  audit.init();
  setUnauthorizedHandler(() => {
    token.clear();
    location.reload();
  });
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token').value.trim();
    if (!t) return;
    token.set(t);
    $('token').value = '';
    start();
  });
  $('signout').addEventListener('click', () => {
    // Stop the view first: a refresh after the token is gone would be
    // sent without it.
    window.removeEventListener('hashchange', onHash);
    if (current) views[current].hide?.();
    token.clear();
    history.replaceState(null, '', '#/overview');
    location.reload();
  });
  start();
}

boot();
