public import SwitchboardCore
import Yams

/// Reads a YAML configuration file into a configuration layer of dotted keys.
public enum ConfigurationFile {
    /// - Throws: ``ConfigurationError`` naming the file and, where it can, the key.
    public static func layer(fromYAML text: String, source: String) throws(ConfigurationError) -> ConfigurationLayer {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(source: source, key: "", reason: "not valid YAML: \(error)")
        }
        var values: [(key: String, value: String)] = []
        guard let node else { return ConfigurationLayer(source: source, values: []) }
        guard case .mapping = node else { throw ConfigurationError(source: source, key: "", reason: "the top level must be a mapping of keys") }
        try flatten(node, prefix: "", source: source, into: &values)
        return ConfigurationLayer(source: source, values: values)
    }

    private static func flatten(_ node: Node, prefix: String, source: String, into values: inout [(key: String, value: String)])
        throws(ConfigurationError)
    {
        switch node {
        case .mapping(let mapping):
            if mapping.isEmpty && !prefix.isEmpty {
                values.append((prefix, ""))
                return
            }
            for (keyNode, valueNode) in mapping {
                guard let key = keyNode.string else {
                    throw ConfigurationError(source: source, key: prefix, reason: "keys must be plain strings")
                }
                try flatten(valueNode, prefix: prefix.isEmpty ? key : "\(prefix).\(key)", source: source, into: &values)
            }
        case .scalar(let scalar):
            let isNull = scalar.style == .plain && ["~", "null", "Null", "NULL"].contains(scalar.string)
            values.append((prefix, isNull ? "" : scalar.string))
        case .sequence:
            throw ConfigurationError(source: source, key: prefix, reason: "lists are not supported here")
        case .alias:
            throw ConfigurationError(source: source, key: prefix, reason: "aliases are not supported")
        }
    }
}
