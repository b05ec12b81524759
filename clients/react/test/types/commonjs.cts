// Type-checked by test/types.test.mjs (never run): the CommonJS entry points (`require` condition) have types too.
import client = require('@switchboard/client');
import react = require('@switchboard/react');
import testing = require('@switchboard/react/testing');

const made: client.SwitchboardClientLike = client.createClient({ url: 'https://rt.example.com', autoConnect: false });
const limit: number = react.DEFAULT_MESSAGE_LIMIT;
const frames = new testing.FakeAnimationFrames();
export { made, limit, frames };
