-- Fields of one tab-separated argument.
local function split(s)
  local out, from = {}, 1
  while true do
    local at = string.find(s, '	', from, true)
    if not at then
      out[#out + 1] = string.sub(s, from)
      return out
    end
    out[#out + 1] = string.sub(s, from, at - 1)
    from = at + 1
  end
end
