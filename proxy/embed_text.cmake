# Writes OUT: a C++ file defining `const char* const promptgate::proxy::SYMBOL` with the text of
# IN (as bytes, so any character survives), for data files shipped inside the binary.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
get_filename_component(name ${IN} NAME)
file(WRITE ${OUT} "// Generated from ${name} by embed_text.cmake.\nnamespace promptgate::proxy {\nnamespace {\nconst unsigned char text[] = {${hex}0x00};\n}  // namespace\nextern const char* const ${SYMBOL};\nconst char* const ${SYMBOL} = reinterpret_cast<const char*>(text);\n}  // namespace promptgate::proxy\n")
