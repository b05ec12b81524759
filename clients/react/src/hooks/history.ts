// Earlier messages: the newest page of a channel's history once connected, and older pages on demand (protocol.md
// §4.13). Pairs with `useChannel`, which starts live at the current position: show `publications` here, then the live
// ones whose offsets are newer.

import { useCallback, useEffect, useRef, useState } from 'react';
import type { Publication } from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';
import { useConnectionState } from './connection.js';

export interface UseHistoryOptions {
  /** Publications per page (1–1000, default 50). */
  pageSize?: number;
}

export interface HistorySnapshot<Data = unknown> {
  /** The loaded pages, oldest first. */
  publications: readonly Publication<Data>[];
  /** A page is being read. */
  loading: boolean;
  /** Earlier publications may still be held (false once a page came back short). */
  hasMore: boolean;
  /** The last page's refusal or failure, null after a success. */
  error: unknown;
  /** Reads the page before the oldest loaded one; a no-op while loading or when there is no more. */
  loadEarlier(): void;
}

interface Loaded<Data> {
  epoch: string | null;
  publications: readonly Publication<Data>[];
  hasMore: boolean;
}

const EMPTY: Loaded<never> = { epoch: null, publications: [], hasMore: true };

/**
 * The channel's held publications, newest page first loaded when the client connects, earlier pages with
 * `loadEarlier()`. If the stream's epoch changes between pages (history was lost), the loaded pages are dropped and
 * the newest page is read again.
 */
export function useHistory<Data = unknown>(channel: string, options: UseHistoryOptions = {}): HistorySnapshot<Data> {
  const { client } = useSwitchboardContext();
  const connected = useConnectionState().status === 'connected';
  const pageSize = options.pageSize ?? 50;
  const [loaded, setLoaded] = useState<Loaded<Data>>(EMPTY);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // The request in flight belongs to this generation: a channel change or unmount ignores older answers.
  const generation = useRef(0);
  const current = useRef(loaded);
  current.current = loaded;

  const read = useCallback(
    (before: number | null) => {
      const mine = generation.current;
      setLoading(true);
      client
        .history<Data>(channel, before === null ? { latest: true, limit: pageSize } : { before, limit: pageSize })
        .then((page) => {
          if (generation.current !== mine) return;
          const previous = current.current;
          const sameStream = before === null || previous.epoch === page.epoch;
          const publications = sameStream ? [...page.publications, ...(before === null ? [] : previous.publications)] : [];
          setLoaded({ epoch: page.epoch, publications, hasMore: sameStream && page.publications.length === pageSize });
          setError(null);
          setLoading(false);
          if (!sameStream) read(null);
        })
        .catch((failure: unknown) => {
          if (generation.current !== mine) return;
          setError(failure);
          setLoading(false);
        });
    },
    [client, channel, pageSize],
  );

  useEffect(() => {
    generation.current++;
    setLoaded(EMPTY);
    setError(null);
    setLoading(false);
    return () => {
      generation.current++;
    };
  }, [client, channel, pageSize]);

  // The first page needs a connection; it is read once per channel (reconnects keep what was loaded). After a failure
  // the next connect tries again.
  const first = loaded.epoch === null && !loading;
  useEffect(() => {
    if (connected && first) read(null);
  }, [connected, first, read]);

  const loadEarlier = useCallback(() => {
    const state = current.current;
    if (loading || !state.hasMore || state.publications.length === 0) return;
    read(state.publications[0].offset);
  }, [loading, read]);

  return { publications: loaded.publications, loading, hasMore: loaded.hasMore, error, loadEarlier };
}
