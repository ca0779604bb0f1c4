# Package feed_to_book_dma (feed_to_book behind the DMA splitter and packetizer) as a Vivado IP.
#
#   vivado -mode batch -source package_ip.tcl -tclargs BOARD IP_REPO
#
# build_overlay.tcl sources this file and calls tickaccel_package_ip itself. Port
# names, widths, bus interfaces and the register map come from generated_params.tcl
# (written from the Python tables); packaging stops when the RTL disagrees with them.

set tickaccel_vivado_dir [file dirname [file normalize [info script]]]
source [file join $tickaccel_vivado_dir generated_params.tcl]

proc tickaccel_port_width {core name} {
    set port [ipx::get_ports $name -of_objects $core]
    if {$port eq ""} {
        error "the RTL top has no port $name, which generated_params.tcl names"
    }
    return [expr {abs([get_property size_left $port] - [get_property size_right $port]) + 1}]
}

proc tickaccel_add_interface {core name abstraction mode ports} {
    set bus [ipx::add_bus_interface $name $core]
    set_property abstraction_type_vlnv $abstraction $bus
    set_property bus_type_vlnv [string map {_rtl: :} $abstraction] $bus
    set_property interface_mode $mode $bus
    foreach port $ports {
        lassign $port logical physical width
        set size [tickaccel_port_width $core $physical]
        if {$size != $width} {
            error "port $physical is $size bits in the RTL, $width in the Python tables"
        }
        set_property physical_name $physical [ipx::add_port_map $logical $bus]
    }
    return $bus
}

proc tickaccel_package_ip {board_name ip_repo} {
    global tickaccel_vivado_dir TICKACCEL_BOARDS TICKACCEL_RTL_SOURCES TICKACCEL_RTL_HEADERS
    global TICKACCEL_TOP TICKACCEL_IP_VENDOR TICKACCEL_IP_LIBRARY TICKACCEL_IP_NAME TICKACCEL_IP_VERSION
    global TICKACCEL_INTERFACES TICKACCEL_CLOCK TICKACCEL_RESET TICKACCEL_CSR_RANGE TICKACCEL_REGISTERS

    set board [dict get $TICKACCEL_BOARDS $board_name]
    set rtl [file normalize [file join $tickaccel_vivado_dir .. rtl]]
    file mkdir $ip_repo
    create_project -force ip_package [file join $ip_repo project] -part [dict get $board part]
    add_files -norecurse [lmap f $TICKACCEL_RTL_SOURCES {file join $rtl $f}]
    add_files -norecurse [lmap f $TICKACCEL_RTL_HEADERS {file join $rtl $f}]
    foreach header $TICKACCEL_RTL_HEADERS {
        set_property file_type {Verilog Header} [get_files $header]
    }
    set_property include_dirs [list $rtl] [current_fileset]
    set_property top $TICKACCEL_TOP [current_fileset]
    update_compile_order -fileset sources_1

    ipx::package_project -root_dir $ip_repo -vendor $TICKACCEL_IP_VENDOR \
        -library $TICKACCEL_IP_LIBRARY -taxonomy /UserIP -import_files -set_current true
    set core [ipx::current_core]
    set_property name $TICKACCEL_IP_NAME $core
    set_property version $TICKACCEL_IP_VERSION $core
    set_property display_name "tickaccel feed_to_book (AXI DMA)" $core
    set_property description "ITCH over MoldUDP64/UDP frames in, BBO update records out, AXI4-Lite CSRs" $core

    # The interfaces are declared from the generated tables, not inferred from names.
    foreach bus [ipx::get_bus_interfaces -of_objects $core] {
        ipx::remove_bus_interface [get_property name $bus] $core
    }
    set streams {}
    foreach iface $TICKACCEL_INTERFACES {
        lassign $iface name abstraction mode ports
        tickaccel_add_interface $core $name $abstraction $mode $ports
        lappend streams $name
    }
    set reset [tickaccel_add_interface $core $TICKACCEL_RESET xilinx.com:signal:reset_rtl:1.0 slave \
        [list [list RST $TICKACCEL_RESET 1]]]
    set_property value ACTIVE_HIGH [ipx::add_bus_parameter POLARITY $reset]
    set clock [tickaccel_add_interface $core $TICKACCEL_CLOCK xilinx.com:signal:clock_rtl:1.0 slave \
        [list [list CLK $TICKACCEL_CLOCK 1]]]
    set_property value [join $streams :] [ipx::add_bus_parameter ASSOCIATED_BUSIF $clock]
    set_property value $TICKACCEL_RESET [ipx::add_bus_parameter ASSOCIATED_RESET $clock]

    # The CSR map goes into the IP-XACT, so the .hwh carries it and PYNQ's register_map names it.
    set memory_map [ipx::add_memory_map s_axil $core]
    set_property slave_memory_map_ref s_axil [ipx::get_bus_interfaces s_axil -of_objects $core]
    set block [ipx::add_address_block csr $memory_map]
    set_property range $TICKACCEL_CSR_RANGE $block
    set_property width 32 $block
    set_property usage register $block
    foreach reg $TICKACCEL_REGISTERS {
        lassign $reg name offset access description
        set register [ipx::add_register $name $block]
        set_property address_offset $offset $register
        set_property size 32 $register
        set_property access $access $register
        set_property description $description $register
    }

    ipx::create_xgui_files $core
    ipx::update_checksums $core
    ipx::check_integrity $core
    ipx::save_core $core
    close_project
}

# build_overlay.tcl sets tickaccel_library_only to use the procs without packaging twice.
if {![info exists tickaccel_library_only]} {
    if {[llength $argv] != 2} {
        error "usage: vivado -mode batch -source package_ip.tcl -tclargs BOARD IP_REPO"
    }
    tickaccel_package_ip [lindex $argv 0] [lindex $argv 1]
}
