import { useCallback } from 'react';
import type { PublishOptions, PublishResult } from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';

/**
 * A stable `publish(data, options?)` for `channel`. The promise resolves with the stored position; while offline the
 * publish waits in the client's queue (and is sent exactly once after reconnecting); refusals reject.
 */
export function usePublish(channel: string): (data: unknown, options?: PublishOptions) => Promise<PublishResult> {
  const { client } = useSwitchboardContext();
  return useCallback((data: unknown, options?: PublishOptions) => client.publish(channel, data, options), [client, channel]);
}
