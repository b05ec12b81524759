// The test page's side of the browser tests: creates a client from the query string and records what the
// application would see — the sequence numbers carried in the publications of one channel, resets, connection
// states and transports — in `window.sb`, which the Python test reads with explicit waits.
//
// Query: ?channel=NAME&options=JSON[&manual=1][&debug=1]
//   options: any createClient option, plus `randomValue` (a fixed value for the client's `random`, to make the
//   backoff delay deterministic). `manual=1` creates no client (the test drives `sb.createClient` itself).
(function () {
  'use strict';
  const params = new URLSearchParams(location.search);
  const channel = params.get('channel') || 'browser:test';
  const sb = (window.sb = {
    channel,
    got: [], // sequence numbers, in delivery order
    offsets: [], // {epoch, offset} of each delivered publication
    resets: [], // {epoch, offset, reason, afterCount}
    states: [], // every connection state, with the page time it was seen
    connectedOver: [], // the transport of each connection, in order
    errors: [],
    onlineEvents: [], // page times of the browser's `online` events
    log: [],
    client: null,
    subscription: null,
  });
  window.addEventListener('online', () => sb.onlineEvents.push(performance.now()));

  sb.createClient = function (extra) {
    const options = Object.assign(JSON.parse(params.get('options') || '{}'), extra || {}, { url: location.origin });
    if (options.randomValue !== undefined) {
      const value = options.randomValue;
      delete options.randomValue;
      options.random = () => value;
    }
    if (params.get('debug')) {
      options.debug = (event, details) => {
        sb.log.push(`${Math.round(performance.now())} ${event} ${JSON.stringify(details === undefined ? '' : details)}`);
        if (sb.log.length > 400) sb.log.splice(0, 100);
      };
    }
    const client = Switchboard.createClient(options);
    client.on('state', (state) => {
      sb.states.push(Object.assign({ at: performance.now() }, state));
      if (state.status === 'connected') sb.connectedOver.push(state.transport);
    });
    client.on('reset', (reset) =>
      sb.resets.push({ epoch: reset.epoch, offset: reset.offset, reason: reset.reason, afterCount: sb.got.length }),
    );
    client.on('error', (error) => sb.errors.push(String((error && error.message) || error)));
    sb.client = client;
    return client;
  };

  sb.subscribe = function (name) {
    sb.subscription = sb.client.subscribe(name || channel, {
      onPublication: (p) => {
        sb.got.push(p.data.n);
        sb.offsets.push({ epoch: p.epoch, offset: p.offset });
      },
    });
    return sb.subscription;
  };

  /** A small summary, cheap to poll. */
  sb.status = function () {
    const client = sb.client;
    return {
      status: client ? client.state.status : null,
      transport: client ? client.state.transport : null,
      state: client ? client.state : null,
      subscription: sb.subscription ? sb.subscription.state : null,
      count: sb.got.length,
      last: sb.got.length ? sb.got[sb.got.length - 1] : 0,
      resets: sb.resets.length,
      connectedOver: sb.connectedOver.slice(),
      leader: client ? client.isLeader === true : false,
      inWorker: client ? client.inWorker === true : false,
      stats: client ? client.stats : null,
      errors: sb.errors.slice(-5),
    };
  };

  if (!params.get('manual')) {
    sb.createClient();
    sb.subscribe();
  }
})();
