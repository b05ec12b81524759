// The part of React's types that @switchboard/react and its documentation use, with the signatures of @types/react
// 18 (and 19 where they differ only in ways that do not matter here, noted). Debian ships React but not
// @types/react, and nothing may come from the npm registry, so this file stands in for it in two places:
// - the bindings' own type-check (tsconfig.json includes it);
// - the suite's type-check of the published declarations and the docs' examples (test/types.test.mjs), as a
//   consumer's @types/react would.
// It is not shipped: the emitted declarations only `import type { ReactElement, ReactNode } from 'react'`, names that
// @types/react 18 and 19 both export, so an app gets its own @types/react's definitions (test/types.test.mjs checks
// the emitted files import nothing else from 'react' and declare no module).

declare module 'react' {
  // ---- elements and nodes (@types/react 18: `key: Key | null`; 19: `key: string | null`) ----
  export type Key = string | number | bigint;
  export type JSXElementConstructor<P> = (props: P) => ReactNode;
  export interface ReactElement<
    P = any,
    T extends string | JSXElementConstructor<any> = string | JSXElementConstructor<any>,
  > {
    type: T;
    props: P;
    key: string | null;
  }
  export type ReactNode = ReactElement | string | number | Iterable<ReactNode> | boolean | null | undefined;
  export interface Attributes {
    key?: Key | null | undefined;
  }
  export interface FunctionComponent<P = {}> {
    (props: P): ReactNode;
    displayName?: string | undefined;
  }
  export type FC<P = {}> = FunctionComponent<P>;
  export interface ExoticComponent<P = {}> {
    (props: P): ReactNode;
    readonly $$typeof: symbol;
  }
  export interface ProviderProps<T> {
    value: T;
    children?: ReactNode | undefined;
  }
  export interface ConsumerProps<T> {
    children: (value: T) => ReactNode;
  }
  export type Provider<T> = ExoticComponent<ProviderProps<T>>;
  export type Consumer<T> = ExoticComponent<ConsumerProps<T>>;
  export interface Context<T> {
    Provider: Provider<T>;
    Consumer: Consumer<T>;
    displayName?: string | undefined;
  }
  export const StrictMode: ExoticComponent<{ children?: ReactNode | undefined }>;
  export const Fragment: ExoticComponent<{ children?: ReactNode | undefined }>;

  export function createContext<T>(defaultValue: T): Context<T>;
  export function createElement<P extends {}>(
    type: FunctionComponent<P> | ExoticComponent<P> | string,
    props?: (Attributes & P) | null,
    ...children: ReactNode[]
  ): ReactElement<P>;

  // ---- hooks ----
  /** @types/react 18: `ReadonlyArray<unknown>`; 19: `readonly unknown[]` (the same type). */
  export type DependencyList = ReadonlyArray<unknown>;
  export type EffectCallback = () => void | (() => void);
  export type SetStateAction<S> = S | ((prevState: S) => S);
  export type Dispatch<A> = (value: A) => void;
  /** @types/react 18; 19 returns `RefObject<T>` whose `current` is mutable too. */
  export interface MutableRefObject<T> {
    current: T;
  }

  export function useContext<T>(context: Context<T>): T;
  export function useState<S>(initialState: S | (() => S)): [S, Dispatch<SetStateAction<S>>];
  export function useState<S = undefined>(): [S | undefined, Dispatch<SetStateAction<S | undefined>>];
  export function useRef<T>(initialValue: T): MutableRefObject<T>;
  export function useEffect(effect: EffectCallback, deps?: DependencyList): void;
  export function useLayoutEffect(effect: EffectCallback, deps?: DependencyList): void;
  /** @types/react 18: `deps: DependencyList | undefined`; 19: `deps: DependencyList`. */
  export function useMemo<T>(factory: () => T, deps: DependencyList): T;
  export function useCallback<T extends Function>(callback: T, deps: DependencyList): T;
  export function useSyncExternalStore<Snapshot>(
    subscribe: (onStoreChange: () => void) => () => void,
    getSnapshot: () => Snapshot,
    getServerSnapshot?: () => Snapshot,
  ): Snapshot;
}

// JSX for the docs' TSX examples (`jsx: react-jsx`), as @types/react's jsx-runtime declares it, loosely typed for
// intrinsic elements (the examples are checked for how they use Switchboard, not for DOM attribute types).
declare module 'react/jsx-runtime' {
  import type { Key, ReactElement, ReactNode } from 'react';
  export namespace JSX {
    type Element = ReactElement<any, any>;
    interface ElementAttributesProperty {
      props: {};
    }
    interface ElementChildrenAttribute {
      children: {};
    }
    interface IntrinsicAttributes {
      key?: Key | null | undefined;
    }
    interface IntrinsicElements {
      [element: string]: { children?: ReactNode; [attribute: string]: unknown };
    }
  }
  export function jsx(type: unknown, props: unknown, key?: Key): ReactElement;
  export function jsxs(type: unknown, props: unknown, key?: Key): ReactElement;
  export const Fragment: unknown;
}

declare module 'react-dom/client' {
  import type { ReactNode } from 'react';
  export interface Root {
    render(children: ReactNode): void;
    unmount(): void;
  }
  export function createRoot(container: Element | DocumentFragment): Root;
}
