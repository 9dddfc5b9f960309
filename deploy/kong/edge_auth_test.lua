-- Runs kong.yml's global pre-function (the edge's credential check and rate-limit keys)
-- against stubs of Kong's PDK, the way Kong's sandbox exposes them. Usage:
--   lua5.1 edge_auth_test.lua <file with the pre-function's Lua>
-- scripts/check_deploy.py extracts the block from kong.yml and runs this.
local code = assert(io.open(arg[1])):read("*a")

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64decode(s)
  if #s % 4 ~= 0 or s:find("[^%w%+/=]") then return nil end
  local out, bits, nbits = {}, 0, 0
  for i = 1, #s do
    local c = s:sub(i, i)
    if c == "=" then break end
    bits = bits * 64 + (b64chars:find(c, 1, true) - 1)
    nbits = nbits + 6
    if nbits >= 8 then
      nbits = nbits - 8
      local byte = math.floor(bits / 2 ^ nbits)
      out[#out + 1] = string.char(byte)
      bits = bits - byte * 2 ^ nbits
    end
  end
  return table.concat(out)
end
local function b64encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    for j = 3, 0, -1 do
      local idx = math.floor(n / 64 ^ j) % 64
      out[#out + 1] = b64chars:sub(idx + 1, idx + 1)
    end
    if not b then out[#out] = "="; out[#out - 1] = "=" elseif not c then out[#out] = "=" end
  end
  return table.concat(out)
end
local function b64url(s) return (b64encode(s):gsub("+", "-"):gsub("/", "_"):gsub("=", "")) end

local failures = 0
local function run(name, req, expect, shared)
  local upstream = {}
  for k, v in pairs(req.headers or {}) do upstream[k:lower()] = v end
  local exited
  local kong = {
    request = {
      get_method = function() return req.method or "GET" end,
      get_header = function(h) return upstream[h:lower()] end,
    },
    service = { request = {
      set_header = function(h, v) upstream[h:lower()] = v end,
      clear_header = function(h) upstream[h:lower()] = nil end,
    } },
    response = { exit = function(status, body, headers) exited = { status = status, body = body, headers = headers }; return exited end },
  }
  local ngx = { decode_base64 = b64decode, now = function() return 1000 end, shared = shared }
  local env = { kong = kong, ngx = ngx, math = math, string = string, tostring = tostring, pairs = pairs }
  local fn = assert(loadstring(code))
  setfenv(fn, env)
  fn()
  local got = {
    status = exited and exited.status or nil,
    key = upstream["x-mirai-rate-key"],
    tenant = upstream["x-mirai-rate-tenant"],
  }
  for k, v in pairs(expect) do
    if v == "nil" then v = nil end
    if got[k] ~= v then
      failures = failures + 1
      print(("FAIL %s: %s = %s, want %s"):format(name, k, tostring(got[k]), tostring(v)))
    end
  end
end

local jwt = function(claims) return b64url('{"alg":"ES256"}') .. "." .. b64url(claims) .. ".c2ln" end
local sub, tid = "0191e3a4-1111-7000-8000-000000000001", "0191e3a4-2222-7000-8000-000000000002"

run("preflight needs no credential", { method = "OPTIONS", headers = {} }, { status = "nil", key = "nil" })
run("no credential", { headers = {} }, { status = 401 })
run("unknown scheme", { headers = { Authorization = "Token abc" } }, { status = 401 })
run("bearer that is neither key nor JWT", { headers = { Authorization = "Bearer abc" } }, { status = 401 })
run("api key (bearer)", { headers = { Authorization = "Bearer mk_0191e3a4ab_s3cr3t" } },
  { status = "nil", key = "key:mk_0191e3a4ab", tenant = "nil" })
run("api key (basic, xAPI clients)", { headers = { Authorization = "Basic " .. b64encode("mk_0191e3a4ab:s3cr3t") } },
  { status = "nil", key = "key:mk_0191e3a4ab", tenant = "nil" })
run("basic without user", { headers = { Authorization = "Basic " .. b64encode(":x") } }, { status = 401 })
run("jwt: subject and tenant", { headers = { Authorization = "Bearer " .. jwt('{"sub":"' .. sub .. '","tid":"' .. tid .. '","exp":1}') } },
  { status = "nil", key = "sub:" .. sub, tenant = "tid:" .. tid })
run("jwt without tenant", { headers = { Authorization = "Bearer " .. jwt('{"sub":"' .. sub .. '"}') } },
  { status = "nil", key = "sub:" .. sub, tenant = "nil" })
run("jwt without subject", { headers = { Authorization = "Bearer " .. jwt('{"tid":"' .. tid .. '"}') } }, { status = 401 })
run("client-sent rate keys are overwritten",
  { headers = { Authorization = "Bearer " .. jwt('{"sub":"' .. sub .. '"}'), ["X-Mirai-Rate-Key"] = "sub:victim", ["X-Mirai-Rate-Tenant"] = "tid:victim" } },
  { status = "nil", key = "sub:" .. sub, tenant = "nil" })

-- The per-tenant ceiling, with the rate-limiting plugin's shared dict (untrusted_lua = on).
local counters = {}
local dict = { incr = function(self, k, by, init) counters[k] = (counters[k] or init) + by; return counters[k] end }
local shared = { kong_rate_limiting_counters = dict }
local token = "Bearer " .. jwt('{"sub":"' .. sub .. '","tid":"' .. tid .. '"}')
for _ = 1, 3000 do run("tenant under its limit", { headers = { Authorization = token } }, { status = "nil" }, shared) end
run("tenant over its limit", { headers = { Authorization = token } }, { status = 429 }, shared)

if failures > 0 then os.exit(1) end
print("edge auth: all cases passed")
