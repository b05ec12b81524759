// What the docs' code blocks use without defining it (test/types.test.mjs): the app's own pieces that an example only
// calls. Typed as loosely as the examples need, so that a wrong use of a Switchboard API is still an error.
declare function render(...values: unknown[]): void;
declare function show(...values: unknown[]): void;
declare function reloadFromBackend(): void;
declare function tick(offset: number, user: string, status: 'delivered' | 'read'): void;
declare const banner: { show(state: unknown): void };
declare const input: HTMLInputElement;
declare const form: HTMLFormElement;
declare const visible: boolean;
declare function getToken(): Promise<string | null>;
declare const client: import('@switchboard/client').SwitchboardClientLike;
declare function act(callback: () => void | Promise<void>): Promise<void>;
