import { useCallback } from 'react';
import type { PublishOptions, PublishResult } from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';

/**
 * A stable `publish(data, options?)` for `channel`. The promise resolves with the stored position; while offline the
 * publish waits in the client's queue (and is sent exactly once after reconnecting); refusals reject with a
 * `SwitchboardError` (its `code`, protocol.md §5). `usePublish<Message>(channel)` only accepts a `Message`.
 */
export function usePublish<Data = unknown>(channel: string): (data: Data, options?: PublishOptions) => Promise<PublishResult> {
  const { client } = useSwitchboardContext();
  return useCallback((data: Data, options?: PublishOptions) => client.publish<Data>(channel, data, options), [client, channel]);
}
