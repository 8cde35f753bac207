# The Debian package (issue 13): `./tools/dev.sh package` -> build/outpost_<version>_amd64.deb.
# outpostd and outpost in /usr/bin, the configuration (deploy/config.toml, a conffile) in
# /etc/outpost, the systemd unit, man pages and the maintainer scripts of deploy/debian
# (the `outpost` system user; purge removes the store). Runtime dependencies come from
# dpkg-shlibdeps.
set(outpost_deb ${CMAKE_SOURCE_DIR}/deploy/debian)
set(outpost_gz ${CMAKE_BINARY_DIR}/package)
file(MAKE_DIRECTORY ${outpost_gz})
# Debian wants the changelog and man pages gzipped with -9n (no name, no time: reproducible).
foreach(f changelog outpostd.8 outpost.1)
  set(out ${outpost_gz}/${f}.gz)
  if(f STREQUAL "changelog")
    set(out ${outpost_gz}/changelog.gz) # a native package: changelog.gz
  endif()
  execute_process(COMMAND gzip -9nc ${outpost_deb}/${f} OUTPUT_FILE ${out})
endforeach()

install(TARGETS outpostd outpost RUNTIME DESTINATION usr/bin COMPONENT package)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/config.toml DESTINATION etc/outpost
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ COMPONENT package)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/outpostd.service DESTINATION lib/systemd/system
        COMPONENT package)
install(FILES ${outpost_deb}/copyright ${outpost_gz}/changelog.gz
        DESTINATION usr/share/doc/outpost COMPONENT package)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/grafana/outpost.json
        DESTINATION usr/share/doc/outpost/grafana COMPONENT package)
install(FILES ${outpost_gz}/outpostd.8.gz DESTINATION usr/share/man/man8 COMPONENT package)
install(FILES ${outpost_gz}/outpost.1.gz DESTINATION usr/share/man/man1 COMPONENT package)
install(FILES ${outpost_deb}/lintian-overrides DESTINATION usr/share/lintian/overrides
        RENAME outpost COMPONENT package)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME outpost)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /)
set(CPACK_SET_DESTDIR OFF)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_COMPONENTS_ALL package)
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};outpost;package;/")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "The Outpost maintainers <maintainers@outpost.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "IoT Edge-compatible edge runtime (hub, agent, upstream link)")
# CPack puts the summary first and indents these lines (each under 80 columns).
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "outpostd runs an Azure IoT Edge-compatible edge device on one industrial\n"
  "PC: an edge hub that unmodified Azure IoT SDKs reach over MQTT and AMQP\n"
  "(TLS, SAS, X.509), IoT Hub's routes over durable mailboxes, twins, methods,\n"
  "C2D and the upstream link to a parent, and an edge agent that runs the\n"
  "deployment's modules. outpost is its command line tool.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.52)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${outpost_deb}/postinst;${outpost_deb}/prerm;${outpost_deb}/postrm;${outpost_deb}/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
