package httpapi

// OpenAPIDocument returns the embedded OpenAPI 3 document that GET
// /api/v1/openapi.yaml serves. The caller must not modify it.
func OpenAPIDocument() []byte { return openapiYAML }
