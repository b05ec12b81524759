import SwitchboardCore

/// Random session ids and addresses: 16 characters of [0-9A-Za-z].
enum SessionID {
    static func make() -> String {
        EpochGenerator.make() + EpochGenerator.make()
    }
}
