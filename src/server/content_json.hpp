// JSON (de)serialization and validation of content items for the HTTP API.
//
// Limits (all inclusive): title 1..512 bytes, description <= 16 KiB, <= 32 tags of
// 1..64 bytes each without duplicates, duration_seconds finite in [0, 1e7], metadata an
// object of <= 64 KiB serialized, nesting depth <= 32. Strings must be valid UTF-8 (the
// parser rejects invalid bytes). Unknown fields are rejected so typos do not silently drop
// data; the read-only fields a GET returns (id, revision, created_at, updated_at, media) are
// accepted and ignored so a client may send back what it read.
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"
#include "server/storage/storage.hpp"

namespace sg::server {

// Parses a complete item for create (POST) or replace (PUT).
Result<ContentFields> parse_content_fields(std::string_view body);
// Applies a partial update (PATCH, JSON merge semantics per top-level field; `metadata`
// is replaced as a whole) on top of `current`.
Result<ContentFields> apply_content_patch(std::string_view body, const ContentFields& current);

// The API representation of an item.
std::string content_to_json(const Content& item);

// The strong ETag of an item revision: "\"<revision>\"".
std::string etag_for_revision(std::int64_t revision);

}  // namespace sg::server
