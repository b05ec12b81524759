import NIOCore
import SwitchboardClient

extension HTTPResponseHead {
    /// ``read(from:)`` for a channel handler: nil while the head is incomplete, and nil after handing a malformed one's
    /// refusal to `refuse` (which fails or closes the connection).
    static func read(from buffer: inout ByteBuffer, refusing refuse: (HTTPRefusal) -> Void) -> HTTPResponseHead? {
        do {
            return try read(from: &buffer)
        } catch {
            refuse(error)
            return nil
        }
    }
}
