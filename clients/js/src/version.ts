// This package's version, sent to the server as `sdk` in `connect` (protocol.md §13) so an operator can tell the
// clients of a retired version. test/version.unit.test.mjs keeps it equal to package.json's.
export const CLIENT_VERSION = '0.2.0';
export const SDK_NAME = `switchboard-js/${CLIENT_VERSION}`;
