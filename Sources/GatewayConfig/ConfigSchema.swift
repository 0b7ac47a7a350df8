import Foundation

/// The JSON Schema (draft 2020-12) of the configuration, built from ``ConfigReference``.
///
/// It checks structure, key names, types and ranges; rules across keys (duplicate paths, a frame
/// limit above the message limit, template placeholders) are left to `wsgate validate`. Values with
/// `${VAR}` pass wherever a value may be written.
public enum ConfigSchema {
    /// The schema as pretty-printed JSON with sorted keys (what `wsgate schema` prints).
    public static func json() -> String {
        prettyJSON(document())
    }

    static func document() -> [String: Any] {
        var root = object(ConfigReference.topLevel)
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        root["$id"] = "urn:wsgate:config:1"
        root["title"] = "wsgate configuration (version 1)"
        return root
    }

    private static var interpolated: [String: Any] {
        ["type": "string", "pattern": "\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}"]
    }

    private static func orInterpolated(_ schema: [String: Any]) -> [String: Any] {
        ["anyOf": [schema, interpolated]]
    }

    static func schema(_ type: ConfigReference.ValueType) -> [String: Any] {
        switch type {
        case .string, .template:
            return ["type": "string"]
        case .boolean:
            return orInterpolated(["type": "boolean"])
        case .duration:
            return [
                "anyOf": [["const": 0], ["type": "string", "pattern": "^(0|[0-9]+(ms|s|m|h))$"], interpolated]
            ]
        case .size:
            return [
                "anyOf": [
                    ["type": "integer", "minimum": 0],
                    ["type": "string", "pattern": "^([0-9]+(B|KiB|MiB|GiB)?|unlimited)$"],
                    interpolated,
                ]
            ]
        case .hostPort:
            return ["type": "string", "pattern": "^((\\[[^\\]]+\\]|[^:\\[\\]]*):[0-9]{1,5}|.*\\$\\{.*)$"]
        case .integer(let range):
            return orInterpolated(["type": "integer", "minimum": range.lowerBound, "maximum": range.upperBound])
        case .stringList:
            return ["type": "array", "items": ["type": "string"]]
        case .stringOrList:
            return ["anyOf": [["type": "string"], ["type": "array", "items": ["type": "string"], "minItems": 1]]]
        case .oneOf(let values):
            return orInterpolated(["enum": values])
        case .nullable(let inner):
            return ["anyOf": [schema(inner), ["type": "null"]]]
        case .object(let keys):
            return object(keys)
        case .stringOrObject(let keys):
            return ["anyOf": [["type": "string"], object(keys)]]
        case .extensions(let deflate):
            return [
                "type": "object",
                "properties": ["permessage-deflate": ["anyOf": [object(deflate), ["type": "null"]]]],
                "additionalProperties": false,
            ]
        case .rate:
            return [
                "anyOf": [
                    ["type": "number", "exclusiveMinimum": 0],
                    ["type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?(/(s|m|h))?$"],
                    interpolated,
                ]
            ]
        case .byteRate:
            return [
                "anyOf": [
                    ["type": "string", "pattern": "^[0-9]+(B|KiB|MiB|GiB)?(/(s|m|h))?$"],
                    ["type": "integer", "minimum": 1],
                    interpolated,
                ]
            ]
        case .unlimitedOr(let inner):
            return ["anyOf": [schema(inner), ["const": "unlimited"]]]
        case .rateOrObject(let keys):
            return ["anyOf": [schema(.rate), object(keys)]]
        case .stringMap:
            return ["type": "object", "additionalProperties": ["type": ["string", "number", "boolean"]]]
        case .endpoints:
            let variants: [[String: Any]] = ConfigReference.endpointTypes.map { kind in
                let settings = ConfigReference.plainTypes.contains(kind.name) ? [] : ConfigReference.settings
                var endpoint = object(ConfigReference.endpointBase + settings + kind.keys)
                if var properties = endpoint["properties"] as? [String: Any] {
                    properties["type"] = ["const": kind.name, "description": "what the endpoint does"]
                    if var path = properties["path"] as? [String: Any] {
                        path["pattern"] = "^/"
                        properties["path"] = path
                    }
                    endpoint["properties"] = properties
                }
                return endpoint
            }
            return ["type": "array", "minItems": 1, "items": ["oneOf": variants]]
        }
    }

    static func object(_ keys: [ConfigReference.Key]) -> [String: Any] {
        var properties: [String: Any] = [:]
        for key in keys {
            var property = schema(key.type)
            property["description"] = key.defaultValue.map { "\(key.summary) (default: \($0))" } ?? key.summary
            properties[key.name] = property
        }
        var result: [String: Any] = ["type": "object", "properties": properties, "additionalProperties": false]
        let required = keys.filter(\.required).map(\.name)
        if !required.isEmpty { result["required"] = required }
        return result
    }
}

/// A JSON document as pretty-printed text with sorted keys and a final newline (how the committed
/// schemas are written, so a test can compare them byte for byte).
func prettyJSON(_ document: [String: Any]) -> String {
    let data =
        (try? JSONSerialization.data(
            withJSONObject: document,
            options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        )) ?? Data()
    return String(decoding: data, as: UTF8.self) + "\n"
}
