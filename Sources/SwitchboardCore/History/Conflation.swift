/// Latest value per key, for recovery on conflating channels.
public enum Conflation {
    /// Keeps publications without a key and, of those with one, only the newest per key; order is preserved.
    public static func latestPerKey(_ publications: [Publication]) -> [Publication] {
        var newest: [String: UInt64] = [:]
        for publication in publications {
            if let key = publication.key { newest[key] = publication.offset }
        }
        return publications.filter { publication in publication.key.map { newest[$0] == publication.offset } ?? true }
    }
}
