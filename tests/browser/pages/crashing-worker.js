// The test worker of test_sharedworker.py: the shipped worker script, plus a way for the test to make the worker
// stop after it started (as a crash or the browser terminating it would): a port that posts
// {type: 'crash-for-test'} makes it close itself. Its Web Locks are released with it.
importScripts('/switchboard-worker.js');
const serve = self.onconnect;
self.onconnect = (event) => {
  event.ports[0].addEventListener('message', (message) => {
    if (message.data && message.data.type === 'crash-for-test') self.close();
  });
  serve(event);
};
