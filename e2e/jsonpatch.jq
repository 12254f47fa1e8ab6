# JSON Pointer (RFC 6901) and JSON Patch (RFC 6902) for the bats suites:
#   jq -L e2e 'include "jsonpatch"; .request.object | jsonpatch($patch)'
# jsonpatch applies add, remove, replace and test, and fails on anything else
# and on a path that does not exist, like policy-server's json-patch crate.

# The reference tokens of a JSON Pointer.
def pointer_tokens:
  if . == "" then []
  elif startswith("/") then .[1:] | split("/") | map(gsub("~1"; "/") | gsub("~0"; "~"))
  else error("not a JSON pointer: \(.)")
  end;

# The jq path of the JSON Pointer $pointer in the input (array indexes as
# numbers, "-" as the index after the last element).
def pointer_path($pointer):
  . as $doc
  | reduce ($pointer | pointer_tokens[]) as $token ([];
      . as $prefix
      | ($doc | getpath($prefix)) as $container
      | if ($container | type) == "array" then
          . + [if $token == "-" then ($container | length)
               elif ($token | test("^(0|[1-9][0-9]*)$")) then ($token | tonumber)
               else error("\($pointer): \"\($token)\" is not an array index") end]
        elif ($container | type) == "object" then . + [$token]
        else error("\($pointer): \"\($token)\" is below a \($container | type)")
        end);

# The value at the JSON Pointer $pointer.
def at_pointer($pointer): getpath(pointer_path($pointer));

def _exists($path):
  ($path | length) == 0
  or (getpath($path[:-1]) as $parent
      | ($parent | type) as $type
      | if $type == "object" then $parent | has($path[-1])
        elif $type == "array" then $path[-1] < ($parent | length)
        else false end);

# The input with the JSON Patch $patch (an array of operations) applied.
def jsonpatch($patch):
  reduce $patch[] as $op (.;
    pointer_path($op.path) as $path
    | if $op.op == "add" then
        if ($path | length) == 0 then $op.value
        elif (getpath($path[:-1]) | type) == "array" then
          getpath($path[:-1]) as $array
          | if $path[-1] > ($array | length) then error("add: \($op.path) is past the end")
            else setpath($path[:-1]; $array[:$path[-1]] + [$op.value] + $array[$path[-1]:]) end
        else setpath($path; $op.value) end
      elif ($op.op == "remove" or $op.op == "replace" or $op.op == "test") and (_exists($path) | not) then
        error("\($op.op): \($op.path) does not exist")
      elif $op.op == "remove" then delpaths([$path])
      elif $op.op == "replace" then setpath($path; $op.value)
      elif $op.op == "test" then
        if getpath($path) == $op.value then . else error("test: \($op.path) differs") end
      else error("unsupported JSON Patch operation \($op.op)")
      end);
