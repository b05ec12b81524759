// The shared transport behaviours (test/helpers/scenarios.mjs) over the websocket transport, against a real server.
import { transportSuite, lifecycleSuite } from './helpers/scenarios.mjs';

transportSuite('websocket');
lifecycleSuite('websocket');
