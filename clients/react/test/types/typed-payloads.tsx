// Type-checked by test/types.test.mjs (never run): typed payloads through the published declarations, as an app sees
// them. Each `@ts-expect-error` line must be an error — a payload of the wrong type is refused at compile time.
import { createClient, type Publication, type SwitchboardError } from '@switchboard/client';
import {
  ConnectionError,
  SwitchboardProvider,
  useChannel,
  usePresence,
  usePublish,
  useSignal,
  useSwitchboardErrors,
  useWebSocket,
} from '@switchboard/react';

interface Message {
  text: string;
  author: string;
}
interface Profile {
  name: string;
}

export function Room() {
  const { publications, error } = useChannel<Message>('chat:lobby');
  const first: Publication<Message> | undefined = publications[0];
  const text: string | undefined = first?.data.text;
  // @ts-expect-error a Message has no `body`
  void first?.data.body;
  const code: number | undefined = error?.code;

  const publish = usePublish<Message>('chat:lobby');
  void publish({ text: 'hi', author: 'ada' }).then((position) => position.offset.toFixed());
  // @ts-expect-error `text` must be a string
  void publish({ text: 42, author: 'ada' });

  const presence = usePresence<Profile>('chat:lobby');
  const name: string | undefined = presence?.members[0]?.info?.name;

  const send = useSignal<{ typing: boolean }>('chat:lobby', (signal) => signal.data?.typing === true);
  // @ts-expect-error the signal's data is `{ typing: boolean }`
  void send('typing', { typing: 'yes' });

  const { state } = useChannel('counter', { reducer: (count: number, publication: Publication<{ by: number }>) => count + publication.data.by, initialState: 0 });
  const count: number = state;

  const { connectionError, channelError } = useSwitchboardErrors('chat:lobby');
  const status = connectionError instanceof ConnectionError ? connectionError.status : null;
  const refusal: SwitchboardError | null = channelError;

  const socket = useWebSocket<{ price: number }>('wss://prices.example.com', { parse: (raw) => JSON.parse(raw) as { price: number } });
  const price: number | undefined = socket.lastMessage?.price;

  return (
    <ul title={`${text} ${code} ${name} ${count} ${status} ${refusal?.reason} ${price}`}>
      {publications.map((publication) => (
        <li key={publication.offset}>{publication.data.author}</li>
      ))}
    </ul>
  );
}

export const App = () => (
  <SwitchboardProvider url="https://rt.example.com">
    <Room />
  </SwitchboardProvider>
);

const client = createClient({ url: 'https://rt.example.com', info: { name: 'Ada' } });
client.subscribe<Message, Profile>('chat:lobby', {
  onPublication: (publication) => publication.data.text.toUpperCase(),
  onPresence: (presence) => presence.members.map((member) => member.info?.name),
});
// @ts-expect-error publish<Message> takes a Message
void client.publish<Message>('chat:lobby', { text: 'no author' });
