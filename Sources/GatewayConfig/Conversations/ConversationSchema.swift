import Foundation

/// The JSON Schema (draft 2020-12) of conversation files (`wsgate test`), built from
/// ``ConversationReference``: schemas/wsgate-test.schema.json.
///
/// It checks structure, key names and types; rules across steps (a refused client acting again, a
/// step naming an undeclared client) are left to `wsgate validate`.
public enum ConversationSchema {
    /// The schema as pretty-printed JSON with sorted keys (what `wsgate schema --conversation` prints).
    public static func json() -> String {
        prettyJSON(document())
    }

    static func document() -> [String: Any] {
        var root = object(ConversationReference.topLevel, exactlyOne: [])
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        root["$id"] = "urn:wsgate:test:1"
        root["title"] = "wsgate conversation file (wsgate test)"
        let stepKeys = ConversationReference.actions + ConversationReference.stepOptions
        var action = object(stepKeys, exactlyOne: ConversationReference.actions.map(\.name))
        action["description"] = "one step: exactly one action, and optionally its timeout"
        let bare: [String: Any] = ["enum": ConversationReference.bareActions, "description": "a step without a value"]
        root["$defs"] = [
            "action": action,
            "step": [
                "anyOf": [
                    bare,
                    ["$ref": "#/$defs/action"],
                    [
                        "type": "object",
                        "description": "a step of a named client: `ann: { send: hello }`",
                        "minProperties": 1,
                        "maxProperties": 1,
                        "propertyNames": ["not": ["enum": stepKeys.map(\.name)]],
                        "additionalProperties": ["anyOf": [bare, ["$ref": "#/$defs/action"]]],
                    ],
                ]
            ],
        ]
        return root
    }

    private static var interpolated: [String: Any] {
        ["type": "string", "pattern": "\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}"]
    }

    static func schema(_ type: ConversationReference.ValueType) -> [String: Any] {
        switch type {
        case .string:
            return ["type": "string"]
        case .duration:
            return ["anyOf": [["type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"], interpolated]]
        case .stringMap:
            return ["type": "object", "additionalProperties": ["type": ["string", "number", "boolean"]]]
        case .stringList:
            return ["type": "array", "items": ["type": "string"]]
        case .integer(let range):
            return [
                "anyOf": [["type": "integer", "minimum": range.lowerBound, "maximum": range.upperBound], interpolated]
            ]
        case .oneOf(let values):
            return ["enum": values]
        case .null:
            return ["type": "null"]
        case .anyOf(let forms):
            return ["anyOf": forms.map(schema)]
        case .object(let keys, let exactlyOne):
            return object(keys, exactlyOne: exactlyOne)
        case .clients:
            return [
                "anyOf": [
                    ["type": "array", "minItems": 1, "items": ["type": "string", "pattern": "^[A-Za-z0-9_-]+$"]],
                    [
                        "type": "object",
                        "minProperties": 1,
                        "propertyNames": ["pattern": "^[A-Za-z0-9_-]+$"],
                        "additionalProperties": [
                            "anyOf": [["type": "null"], object(ConversationReference.connection, exactlyOne: [])]
                        ],
                    ],
                ]
            ]
        case .steps:
            return ["type": "array", "minItems": 1, "items": ["$ref": "#/$defs/step"]]
        }
    }

    static func object(_ keys: [ConversationReference.Key], exactlyOne: [String]) -> [String: Any] {
        var properties: [String: Any] = [:]
        for key in keys {
            var property = schema(key.type)
            property["description"] = key.summary
            properties[key.name] = property
        }
        var result: [String: Any] = ["type": "object", "properties": properties, "additionalProperties": false]
        let required = keys.filter(\.required).map(\.name)
        if !required.isEmpty { result["required"] = required }
        if !exactlyOne.isEmpty { result["oneOf"] = exactlyOne.map { ["required": [$0]] } }
        return result
    }
}
