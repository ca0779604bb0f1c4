// Ethernet II (optionally one 802.1Q tag) / IPv4 / UDP receive and filter.
//
// Frames arrive on s_axis starting at the destination MAC; every non-last
// beat is full. The UDP payload of frames addressed to cfg_dest_ip /
// cfg_dest_port leaves on m_axis cut-through, without realignment: the first
// payload beat has the header lanes nulled in tkeep (legal AXI4-Stream null
// bytes), so the kept lanes of every beat form one contiguous run. Ethernet
// padding after the IP total length is not forwarded.
//
// Every frame ends in exactly one stat_* strobe: passed or one drop reason.
// Header checks are made, in a fixed priority order, in the beat that
// completes the bytes they need. Two faults show only at the end of the
// frame (tuser set on the last beat, or fewer bytes than the IP total length);
// the payload already forwarded cannot be recalled, so the last payload beat
// is marked with m_axis_tuser = 1 and downstream discards that beat and any
// message left incomplete. When padding follows the payload, the last
// payload beat is held until the frame's last beat shows its tuser.
//
// Two pipeline stages, so no path runs from a header byte to the output.
// The check stage takes each beat and captures the header fields it brings;
// every check is made in the beat that completes its bytes and registered
// as a flag with the beat (fields that lie in an earlier beat than their
// check are read from registers). The IPv4 checksum is accumulated per beat
// in one's-complement carry-save form (two 16-bit vectors, end-around carry)
// for both Ethernet lengths (14, and 18 with a VLAN tag), so no word select
// waits for the tag; which words of a beat are IP header words is registered
// a beat ahead, so no compare sits in front of the adders; the sums' bitwise
// tests are registered with them. 16-bit fields compared with a value are
// compared in every word lane as they arrive, and the payload's end is an
// equality of beat pointers and a registered lane table: no compare chain
// follows a header byte. The verdict stage takes the beat a cycle later,
// with its flags: it finishes the checksum test, picks the lanes holding the
// frame's fields, applies the drop-reason priority to registered flags only,
// and emits. The output register loads whenever it is free; its enable waits
// on no verdict.

module udp_rx_filter #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8
) (
    input  wire                  clk,
    input  wire                  rst,

    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire                  s_axis_tuser,

    output reg  [DATA_WIDTH-1:0] m_axis_tdata,
    output reg  [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output reg                   m_axis_tlast,
    output reg                   m_axis_tuser,

    input  wire                  cfg_enable,
    input  wire [31:0]           cfg_dest_ip,
    input  wire [15:0]           cfg_dest_port,

    output reg                   stat_frame_in,
    output reg                   stat_frame_passed,
    output reg                   stat_drop_not_ipv4,
    output reg                   stat_drop_fragment,
    output reg                   stat_drop_checksum,
    output reg                   stat_drop_not_udp,
    output reg                   stat_drop_length,
    output reg                   stat_drop_filtered,
    output reg                   stat_drop_runt,
    output reg                   stat_drop_frame_error,
    output reg                   stat_drop_truncated
);

initial begin
    if (DATA_WIDTH != 32 && DATA_WIDTH != 64 && DATA_WIDTH != 128) begin
        $error("udp_rx_filter: DATA_WIDTH must be 32, 64 or 128");
        $finish;
    end
    if (KEEP_WIDTH*8 != DATA_WIDTH) begin
        $error("udp_rx_filter: KEEP_WIDTH must be DATA_WIDTH/8");
        $finish;
    end
end

// Longest header: Ethernet with 802.1Q (18) + IPv4 with options (60) + UDP (8).
localparam HDR_BYTES = 86;
localparam PTR_WIDTH = 17;  // frame byte offsets up to 18 + 65535
localparam LOG_KEEP = $clog2(KEEP_WIDTH);
localparam HDR_BEATS = (HDR_BYTES + KEEP_WIDTH - 1) / KEEP_WIDTH;
localparam WORDS = KEEP_WIDTH / 2;
localparam CSA_OPS = WORDS + 2;
localparam [PTR_WIDTH-1:0] BEAT_PTR_LESS32_START = {PTR_WIDTH{1'b1}} - 31;  // 0 - 32

localparam [3:0] V_NONE      = 4'd0,
                 V_PASS      = 4'd1,
                 V_NOT_IPV4  = 4'd2,
                 V_FRAGMENT  = 4'd3,
                 V_CHECKSUM  = 4'd4,
                 V_NOT_UDP   = 4'd5,
                 V_LENGTH    = 4'd6,
                 V_FILTERED  = 4'd7;

reg  [HDR_BYTES*8-1:0] hdr_reg;
reg  [PTR_WIDTH-1:0]   beat_ptr;      // frame offset of the incoming beat's lane 0
reg  [5:0]             hdr_beat;      // beat number within the frame, saturating past the header
reg  [HDR_BEATS-1:0]   hdr_beat_is;   // one-hot hdr_beat while in the header, for the byte merge

// Registered from the header bytes seen so far (valid once their bytes are in).
reg                    vlan_reg;
reg                    ihl_ok_reg;
reg  [3:0]             udp_slot_reg;  // UDP header at frame offset 34 + 4*slot
reg  [11:0]            udp_slot_is;   // one-hot udp_slot_reg, for the field selects
reg  [11:0]            udp_slot_upto; // thermometer: bit k set when udp_slot_reg <= k
reg                    fragment_reg;
reg                    not_udp_reg;
reg                    short_reg;     // IP total length below IHL*4 + 8
reg  [15:0]            udp_len_want_reg;
// Per Ethernet length (bits [WORDS*h +: WORDS], [16h+15:16h]; h = 1: with a tag):
reg  [2*WORDS-1:0]     csum_word_en;  // the incoming beat's 16-bit words that are IP header words
reg  [31:0]            csum_s, csum_c;  // carry-save one's-complement sum of the IP words so far
wire [31:0]            csum_s_next, csum_c_next;
// The frame's sums (its tag known by the first IP header beat's end) as
// bitwise tests, registered with them: s ^ c, s & c, ~(s | c).
reg  [15:0]            csum_xor, csum_and, csum_nor;
// The last payload byte, at the IP total length + 13 (17 with a tag): the
// length's bits from 5 up, the carry into them and the sum's bits 4..0, and
// the lanes up to it in its beat; past_end once a beat of the frame has held it.
reg  [10:0]            end_high_reg;
reg                    end_carry_reg;
reg  [4:0]             end_low_reg;
reg  [PTR_WIDTH-1:0]   beat_ptr_less32;  // beat_ptr - 32: its bits from 5 up are beat_ptr's less one
reg  [KEEP_WIDTH-1:0]  last_lane_therm, last_lane_is;  // ... and the last byte's lane
reg                    past_end;

// The beat in the verdict stage, with what the check stage found in it.
reg                    chk_valid;
reg  [DATA_WIDTH-1:0]  chk_data;
reg  [KEEP_WIDTH-1:0]  chk_payload_keep;
reg                    chk_emits;     // payload lanes, or the payload's end: a pass emits it
reg                    chk_first, chk_last, chk_user, chk_ends_payload, chk_truncated;
reg                    chk_not_ethertype_ipv4, chk_have_ip20, chk_have_ip, chk_have_udp;
reg  [WORDS-1:0]       chk_port_lane, chk_port_is, chk_udp_len_lane, chk_udp_len_is;
reg  [WORDS-1:0]       chk_ip_hi_lane, chk_ip_hi_is, chk_ip_lo_lane, chk_ip_lo_is;

// Verdict stage state.
reg                    decided;       // verdict for this frame already made
reg                    passing;       // ... and it was pass
reg                    payload_done;  // last payload byte already forwarded
reg                    out_valid;
reg                    out_hold;      // last payload beat waits for the frame's end
reg                    port_seen, udp_len_seen;  // the frame's port / length matched in an earlier beat
reg                    ip_hi_seen, ip_lo_seen;   // ... its IP destination's halves

assign m_axis_tvalid = out_valid && !out_hold;
wire out_free = !out_valid || (m_axis_tready && !out_hold);
// While holding, the rest of the frame is padding and produces no output.
wire chk_take = chk_valid && (out_free || out_hold);
assign s_axis_tready = !chk_valid || chk_take;
wire s_fire = s_axis_tvalid && s_axis_tready;

// ---- check stage: header view, bytes seen so far merged with the incoming beat ----
wire [HDR_BYTES*8-1:0] hv;
genvar g;
generate
    for (g = 0; g < HDR_BYTES; g = g + 1) begin : g_hdr_view
        localparam integer BEAT = g / KEEP_WIDTH;
        assign hv[g*8 +: 8] = hdr_beat_is[BEAT]
                              ? s_axis_tdata[(g % KEEP_WIDTH)*8 +: 8] : hdr_reg[g*8 +: 8];
    end
endgenerate

// Byte p of the frame is in: in an earlier beat, or in this one and kept
// (every non-last beat is full; the last one's kept lanes start at lane 0).
function have_byte;
    input [5:0] beat;
    input [5:0] p_beat;
    input [LOG_KEEP-1:0] p_lane;
    input last;
    input [KEEP_WIDTH-1:0] keep;
    begin
        have_byte = beat > p_beat || (beat == p_beat && (!last || keep[p_lane]));
    end
endfunction

function have_at;
    input [5:0] beat;
    input integer p;
    input last;
    input [KEEP_WIDTH-1:0] keep;
    reg [31:0] p_beat, p_lane;
    begin
        p_beat = p / KEEP_WIDTH;
        p_lane = p % KEEP_WIDTH;
        have_at = have_byte(beat, p_beat[5:0], p_lane[LOG_KEEP-1:0], last, keep);
    end
endfunction

// Fields at fixed offsets, through the merged view (their beat may be this one).
// They read the registered tag: offset 16 on lies in a later beat than the
// tag (bytes 12-13) at every width, and the version/IHL byte only feeds
// registers that are read at the IP header's end, beats after the tag's.
wire [7:0]  ver_ihl   = vlan_reg ? hv[18*8 +: 8] : hv[14*8 +: 8];
wire [15:0] ip_total  = vlan_reg ? {hv[20*8 +: 8], hv[21*8 +: 8]} : {hv[16*8 +: 8], hv[17*8 +: 8]};
wire [3:0]  ihl       = ver_ihl[3:0];
// Fields only the IP header's end reads (byte 33 or later, 37 with a tag)
// lie in earlier beats at every width: read from the registered bytes.
wire [3:0]  ihl_r      = vlan_reg ? hdr_reg[18*8 +: 4] : hdr_reg[14*8 +: 4];
wire [15:0] ip_total_r = vlan_reg ? {hdr_reg[20*8 +: 8], hdr_reg[21*8 +: 8]} : {hdr_reg[16*8 +: 8], hdr_reg[17*8 +: 8]};
wire [15:0] ip_frag_r  = vlan_reg ? {hdr_reg[24*8 +: 8], hdr_reg[25*8 +: 8]} : {hdr_reg[20*8 +: 8], hdr_reg[21*8 +: 8]};
wire [7:0]  ip_proto_r = vlan_reg ? hdr_reg[27*8 +: 8] : hdr_reg[23*8 +: 8];
wire [5:0]  ip_hdr_len = {ihl, 2'b00};

// IP total length below IHL*4 + 8 (header and UDP header): in 4-byte units,
// below IHL + 2, at most 17; a table of the IHL and the length's units below
// 32, so no adder or compare chain follows the merged header bytes.
function ip_total_short;
    input [3:0]  ihl_field;
    input [15:0] total;
    reg [31:0] below;  // bit u set when u units are short
    integer v;
    begin
        ip_total_short = 1'b0;
        for (v = 0; v < 16; v = v + 1)
            if (ihl_field == v[3:0]) begin
                below = 32'hFFFF_FFFF >> (30 - v);
                ip_total_short = total[15:7] == 9'd0 && below[total[6:2]];
            end
    end
endfunction

// 16-bit fields compared with a value: every header word lies at an even
// offset, so each of the incoming beat's word lanes is compared as it
// arrives, and the results are registered per lane with the beat. The
// verdict stage picks the lane that holds the frame's field (a lane one-hot
// from a table of the registered beat, tag and slot one-hots), so no compare
// and field select share a path; a match in an earlier beat is kept.
reg [WORDS-1:0] lane_is_port, lane_is_udp_len, lane_is_ip_hi, lane_is_ip_lo, lane_is_tag, lane_is_ipv4;
reg [WORDS-1:0] port_lane, udp_len_lane;   // the frame's port / length word is in this lane
reg [WORDS-1:0] ip_hi_lane, ip_lo_lane;    // ... its IP destination's halves
integer wl, us, ub;
always @* begin
    for (wl = 0; wl < WORDS; wl = wl + 1) begin
        lane_is_port[wl]    = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == cfg_dest_port;
        lane_is_udp_len[wl] = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == udp_len_want_reg;
        lane_is_ip_hi[wl]   = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == cfg_dest_ip[31:16];
        lane_is_ip_lo[wl]   = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == cfg_dest_ip[15:0];
        lane_is_tag[wl]     = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == 16'h8100;
        lane_is_ipv4[wl]    = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == 16'h0800;
    end
    // UDP slot u (header at 34 + 4u): port at 36 + 4u, length at 38 + 4u;
    // IP destination halves at 30 / 32, or 34 / 36 with a tag
    port_lane = {WORDS{1'b0}};
    udp_len_lane = {WORDS{1'b0}};
    ip_hi_lane = {WORDS{1'b0}};
    ip_lo_lane = {WORDS{1'b0}};
    for (ub = 0; ub < HDR_BEATS; ub = ub + 1) begin
        for (us = 0; us < 2; us = us + 1) begin
            if ((30 + 4*us) / KEEP_WIDTH == ub)
                ip_hi_lane[((30 + 4*us) % KEEP_WIDTH) / 2] = ip_hi_lane[((30 + 4*us) % KEEP_WIDTH) / 2]
                                                             | (hdr_beat_is[ub] & (vlan_reg == us[0]));
            if ((32 + 4*us) / KEEP_WIDTH == ub)
                ip_lo_lane[((32 + 4*us) % KEEP_WIDTH) / 2] = ip_lo_lane[((32 + 4*us) % KEEP_WIDTH) / 2]
                                                             | (hdr_beat_is[ub] & (vlan_reg == us[0]));
        end
        for (us = 0; us < 12; us = us + 1) begin
            if ((36 + 4*us) / KEEP_WIDTH == ub)
                port_lane[((36 + 4*us) % KEEP_WIDTH) / 2] = port_lane[((36 + 4*us) % KEEP_WIDTH) / 2]
                                                            | (hdr_beat_is[ub] & udp_slot_is[us]);
            if ((38 + 4*us) / KEEP_WIDTH == ub)
                udp_len_lane[((38 + 4*us) % KEEP_WIDTH) / 2] = udp_len_lane[((38 + 4*us) % KEEP_WIDTH) / 2]
                                                               | (hdr_beat_is[ub] & udp_slot_is[us]);
        end
    end
end

// The tag and the Ethernet type (bytes 12, and 16 after a tag): their
// comparisons kept per place, merged like the header bytes. The tag may
// share a beat with the Ethernet type, which reads it from here.
reg  [2:0] eth_words_reg;  // 12 is the tag, 12 is IPv4, 16 is IPv4
wire tag_at_12  = hdr_beat_is[12 / KEEP_WIDTH] ? lane_is_tag[(12 % KEEP_WIDTH) / 2] : eth_words_reg[0];
wire ipv4_at_12 = hdr_beat_is[12 / KEEP_WIDTH] ? lane_is_ipv4[(12 % KEEP_WIDTH) / 2] : eth_words_reg[1];
wire ipv4_at_16 = hdr_beat_is[16 / KEEP_WIDTH] ? lane_is_ipv4[(16 % KEEP_WIDTH) / 2] : eth_words_reg[2];
wire vlan_now   = tag_at_12;
wire ethertype_ipv4 = vlan_now ? ipv4_at_16 : ipv4_at_12;

// ---- IPv4 checksum: this beat's header words added to each carry-save pair ----
// The IP header words of the beat with one-hot number beat_is, for an
// Ethernet header of eth bytes. A word's frame offset is a constant per beat
// and lane, so the header's end is a compare of the IHL with a constant; the
// first 20 header bytes need no IHL. Registered a beat ahead: the words past
// those 20 bytes lie in a later beat than the IHL byte at every width.
function [WORDS-1:0] ip_header_words;
    input integer eth;
    input [HDR_BEATS-1:0] beat_is;
    input [3:0] ihl_field;  // the IHL as the frame has it, valid from its beat on
    reg [15:0] ihl_above;   // thermometer: bit k set when the IHL is above k
    integer b, w, at, v;
    begin
        // a table of the IHL (constants only: no adder or carry chain)
        ihl_above = 16'd0;
        for (v = 0; v < 16; v = v + 1)
            if (ihl_field == v[3:0])
                ihl_above = 16'hFFFF >> (16 - v);
        ip_header_words = {WORDS{1'b0}};
        for (b = 0; b < HDR_BEATS; b = b + 1)
            for (w = 0; w < WORDS; w = w + 1) begin
                at = b*KEEP_WIDTH + 2*w;
                // the word's header offset at - eth is inside the header when below 4 * IHL
                if (beat_is[b] && at >= eth && (at < eth + 20 || (at < eth + 60 && ihl_above[(at - eth) / 4])))
                    ip_header_words[w] = 1'b1;
            end
    end
endfunction

localparam [HDR_BEATS-1:0] FIRST_BEAT = 1;
wire [HDR_BEATS-1:0] next_beat_is = s_axis_tlast ? FIRST_BEAT : hdr_beat_is << 1;

// Full adder of three vectors mod 0xFFFF: sum and carry (rotated: 2^16 = 1).
function [31:0] csa3;
    input [15:0] x, y, z;
    reg [15:0] carry;
    begin
        carry = (x & y) | (x & z) | (y & z);
        csa3 = {{carry[14:0], carry[15]}, x ^ y ^ z};
    end
endfunction
// Six vectors counted per bit into three (weights 1, 2, 4, rotated): each
// count bit is a function of the six bits, one LUT6 (written as logic, so
// no adder is inferred).
function [47:0] count6;
    input [95:0] v;
    reg [31:0] lo, hi;
    reg [15:0] carry0, b1, b2;
    begin
        lo = csa3(v[0 +: 16], v[16 +: 16], v[32 +: 16]);
        hi = csa3(v[48 +: 16], v[64 +: 16], v[80 +: 16]);
        // lo/hi hold their carries rotated by one already
        carry0 = lo[15:0] & hi[15:0];
        b1 = lo[31:16] ^ hi[31:16] ^ {carry0[14:0], carry0[15]};
        b2 = (lo[31:16] & hi[31:16]) | (lo[31:16] & {carry0[14:0], carry0[15]}) | (hi[31:16] & {carry0[14:0], carry0[15]});
        count6 = {{b2[14:0], b2[15]}, b1, lo[15:0] ^ hi[15:0]};
    end
endfunction
// A frame's first beat starts from zero.
generate
    for (g = 0; g < 2; g = g + 1) begin : g_csum
        if (WORDS == 8) begin : g_tree10
            // Ten operands would take five levels of full adders; the first
            // level's six sums are counted (one LUT6 a bit), so four.
            reg [16*WORDS-1:0] words;
            reg [31:0] fa_a, fa_b, fa_c, fa_e, fa_f;
            reg [47:0] cnt_d;
            reg [15:0] acc_s, acc_c;
            integer w;
            always @* begin
                acc_s = hdr_beat_is[0] ? 16'd0 : csum_s[g*16 +: 16];
                acc_c = hdr_beat_is[0] ? 16'd0 : csum_c[g*16 +: 16];
                words = 0;
                for (w = 0; w < WORDS; w = w + 1)
                    if (csum_word_en[g*WORDS + w])
                        words[w*16 +: 16] = {s_axis_tdata[(2*w)*8 +: 8], s_axis_tdata[(2*w+1)*8 +: 8]};
                fa_a = csa3(words[0 +: 16], words[16 +: 16], words[32 +: 16]);
                fa_b = csa3(words[48 +: 16], words[64 +: 16], words[80 +: 16]);
                fa_c = csa3(words[96 +: 16], words[112 +: 16], acc_s);
                cnt_d = count6({fa_c, fa_b, fa_a});
                fa_e = csa3(acc_c, cnt_d[0 +: 16], cnt_d[16 +: 16]);
                fa_f = csa3(cnt_d[32 +: 16], fa_e[0 +: 16], fa_e[16 +: 16]);
            end
            assign csum_s_next[g*16 +: 16] = fa_f[0 +: 16];
            assign csum_c_next[g*16 +: 16] = fa_f[16 +: 16];
        end else begin : g_queue
            reg [16*CSA_OPS-1:0] csa_q;
            reg [15:0] csa_x, csa_y, csa_z, csa_carry;
            integer w, r;
            always @* begin
                csa_q = 0;
                csa_q[0 +: 16] = hdr_beat_is[0] ? 16'd0 : csum_s[g*16 +: 16];
                csa_q[16 +: 16] = hdr_beat_is[0] ? 16'd0 : csum_c[g*16 +: 16];
                for (w = 0; w < WORDS; w = w + 1)
                    if (csum_word_en[g*WORDS + w])
                        csa_q[(w+2)*16 +: 16] = {s_axis_tdata[(2*w)*8 +: 8], s_axis_tdata[(2*w+1)*8 +: 8]};
                // Wallace order: the three oldest operands become two new ones at the end.
                // 2^16 = 1 mod 0xFFFF, so the carry out of bit 15 wraps to bit 0.
                for (r = 0; r < CSA_OPS - 2; r = r + 1) begin
                    csa_x = csa_q[0 +: 16];
                    csa_y = csa_q[16 +: 16];
                    csa_z = csa_q[32 +: 16];
                    csa_carry = (csa_x & csa_y) | (csa_x & csa_z) | (csa_y & csa_z);
                    csa_q = csa_q >> 48;
                    csa_q[(CSA_OPS-3-r)*16 +: 16] = csa_x ^ csa_y ^ csa_z;
                    csa_q[(CSA_OPS-2-r)*16 +: 16] = {csa_carry[14:0], csa_carry[15]};
                end
            end
            assign csum_s_next[g*16 +: 16] = csa_q[0 +: 16];
            assign csum_c_next[g*16 +: 16] = csa_q[16 +: 16];
        end
    end
endgenerate

// The accumulated sums for the frame's Ethernet length: every beat that can
// complete the IP header follows the tag's beat, so vlan_reg holds it.
wire [15:0] sum_s_next = vlan_reg ? csum_s_next[31:16] : csum_s_next[15:0];
wire [15:0] sum_c_next = vlan_reg ? csum_c_next[31:16] : csum_c_next[15:0];

// ---- checks, each in the beat that completes its bytes ----
wire last = s_axis_tlast;
wire [6:0] udp_base = 7'd34 + {1'b0, udp_slot_reg, 2'b00};
wire [6:0] ip_last  = udp_base - 7'd1;
wire [6:0] udp_last = udp_base + 7'd7;
wire [6:0] ip_last_beat = ip_last >> LOG_KEEP;
wire [6:0] udp_last_beat = udp_last >> LOG_KEEP;
wire have_eth  = vlan_now ? have_at(hdr_beat, 17, last, s_axis_tkeep) : have_at(hdr_beat, 13, last, s_axis_tkeep);
wire have_ip20 = vlan_reg ? have_at(hdr_beat, 37, last, s_axis_tkeep) : have_at(hdr_beat, 33, last, s_axis_tkeep);
wire have_ip   = have_ip20 && ihl_ok_reg
                 && have_byte(hdr_beat, ip_last_beat[5:0], ip_last[LOG_KEEP-1:0], last, s_axis_tkeep);
wire have_udp  = have_ip
                 && have_byte(hdr_beat, udp_last_beat[5:0], udp_last[LOG_KEEP-1:0], last, s_axis_tkeep);

// Lanes at or past the payload start (42 + 4 * slot): a constant table of the
// one-hot beat and the registered slot thermometer; every lane past the
// header is. Monotonic in the lane, so the top lane says whether any is.
function [KEEP_WIDTH-1:0] payload_lanes;
    input [HDR_BEATS-1:0] beat_is;
    input [11:0] slot_upto;   // bit k set when the slot is at most k
    input past_header;
    integer b, ln, at;
    begin
        payload_lanes = {KEEP_WIDTH{past_header}};
        for (b = 0; b < HDR_BEATS; b = b + 1)
            for (ln = 0; ln < KEEP_WIDTH; ln = ln + 1) begin
                at = b*KEEP_WIDTH + ln;
                if (at >= 42 + 4*11)
                    payload_lanes[ln] = payload_lanes[ln] | beat_is[b];
                else if (at >= 42)
                    payload_lanes[ln] = payload_lanes[ln] | (beat_is[b] & slot_upto[(at - 42) / 4]);
            end
    end
endfunction

wire [KEEP_WIDTH-1:0] after_start = payload_lanes(hdr_beat_is, udp_slot_upto, hdr_beat >= HDR_BEATS[5:0]);

// The payload's end by beat and lane: beat_ptr moves by whole beats, so the
// beat holding the last byte is an equality of the pointers' beat bits (no
// compare chain), the beats after it are flagged, and its lanes up to the
// last byte are a thermometer registered with the offset. past_end waits
// for the IP total length (in by the first 20 IP header bytes; the payload
// ends after them). A last beat's kept lanes start at lane 0, so it is
// truncated when the payload ends past the beat or the last byte's lane is
// not kept: no count of kept lanes.
wire at_end_beat = beat_ptr[4:LOG_KEEP] == end_low_reg[4:LOG_KEEP]
                   && (end_carry_reg ? beat_ptr_less32[PTR_WIDTH-1:5] : beat_ptr[PTR_WIDTH-1:5])
                      == {1'b0, end_high_reg};
wire beat_reaches_end = at_end_beat || past_end;

// The sum's low five bits and the carry out of them: a table of the
// length's low five bits (no adder).
function [5:0] end_low;
    input [4:0] total_low;
    input with_tag;
    integer v, t;
    reg [31:0] sum;
    begin
        end_low = 6'd0;
        for (t = 0; t < 2; t = t + 1)
            for (v = 0; v < 32; v = v + 1)
                if (with_tag == t[0] && total_low == v[4:0]) begin
                    sum = v + 13 + 4*t;
                    end_low = sum[5:0];
                end
    end
endfunction
wire [5:0] end_low_next = end_low(ip_total[4:0], vlan_reg);

// The lanes up to the last byte's: a table of the IP total length's low
// bits (the lane is theirs plus a constant), not the adder's low bits.
function [KEEP_WIDTH-1:0] last_lanes;
    input [LOG_KEEP-1:0] total_low;
    input with_tag;
    integer v, t, ln;
    begin
        last_lanes = {KEEP_WIDTH{1'b0}};
        for (t = 0; t < 2; t = t + 1)
            for (v = 0; v < KEEP_WIDTH; v = v + 1)
                if (with_tag == t[0] && total_low == v[LOG_KEEP-1:0])
                    for (ln = 0; ln < KEEP_WIDTH; ln = ln + 1)
                        last_lanes[ln] = ln <= (v + 13 + 4*t) % KEEP_WIDTH;
    end
endfunction
wire [KEEP_WIDTH-1:0] last_lane_therm_next = last_lanes(ip_total[LOG_KEEP-1:0], vlan_reg);

reg [KEEP_WIDTH-1:0] lane_before_end, payload_keep;
integer l;
always @* begin
    for (l = 0; l < KEEP_WIDTH; l = l + 1) begin
        lane_before_end[l] = !past_end && (!at_end_beat || last_lane_therm[l]);
        payload_keep[l] = s_axis_tkeep[l] && after_start[l] && lane_before_end[l];
    end
end

always @(posedge clk) begin
    if (chk_take)
        chk_valid <= 1'b0;

    if (s_fire) begin
        hdr_reg <= hv;
        if (beat_ptr < {PTR_WIDTH{1'b1}} - KEEP_WIDTH[PTR_WIDTH-1:0]) begin
            beat_ptr <= beat_ptr + KEEP_WIDTH[PTR_WIDTH-1:0];
            beat_ptr_less32 <= beat_ptr_less32 + KEEP_WIDTH[PTR_WIDTH-1:0];
        end
        if (hdr_beat <= HDR_BEATS[5:0])
            hdr_beat <= hdr_beat + 1'b1;
        hdr_beat_is <= hdr_beat_is << 1;
        vlan_reg <= vlan_now;
        eth_words_reg <= {ipv4_at_16, ipv4_at_12, tag_at_12};
        ihl_ok_reg <= ver_ihl[7:4] == 4'd4 && ihl >= 4'd5;
        udp_slot_reg <= ihl - 4'd5 + {3'd0, vlan_reg};
        udp_slot_is <= 12'd1 << (ihl - 4'd5 + {3'd0, vlan_reg});
        udp_slot_upto <= 12'hFFF << (ihl - 4'd5 + {3'd0, vlan_reg});
        fragment_reg <= ip_frag_r[13] || ip_frag_r[12:0] != 0;
        not_udp_reg <= ip_proto_r != 8'd17;
        short_reg <= ip_total_short(ihl_r, ip_total_r);
        udp_len_want_reg <= ip_total - {10'd0, ip_hdr_len};
        end_high_reg <= ip_total[15:5];
        end_carry_reg <= end_low_next[5];
        end_low_reg <= end_low_next[4:0];
        last_lane_therm <= last_lane_therm_next;
        last_lane_is <= last_lane_therm_next & ~(last_lane_therm_next << 1);
        past_end <= past_end || (at_end_beat && have_ip20);
        csum_s <= csum_s_next;
        csum_c <= csum_c_next;
        csum_xor <= sum_s_next ^ sum_c_next;
        csum_and <= sum_s_next & sum_c_next;
        csum_nor <= ~(sum_s_next | sum_c_next);
        csum_word_en <= {ip_header_words(18, next_beat_is, hv[18*8 +: 4]),
                         ip_header_words(14, next_beat_is, hv[14*8 +: 4])};

        chk_valid <= 1'b1;
        chk_data <= s_axis_tdata;
        chk_payload_keep <= payload_keep;
        chk_emits <= s_axis_tlast || beat_reaches_end || after_start[KEEP_WIDTH-1];
        chk_first <= beat_ptr == 0;
        chk_last <= s_axis_tlast;
        chk_user <= s_axis_tuser;
        chk_ends_payload <= s_axis_tlast || beat_reaches_end;
        chk_truncated <= !past_end && (!at_end_beat || (last_lane_is & s_axis_tkeep) == 0);
        chk_not_ethertype_ipv4 <= have_eth && !ethertype_ipv4;
        chk_have_ip20 <= have_ip20;
        chk_have_ip <= have_ip;
        chk_have_udp <= have_udp;
        chk_port_lane <= port_lane;
        chk_port_is <= lane_is_port;
        chk_udp_len_lane <= udp_len_lane;
        chk_udp_len_is <= lane_is_udp_len;
        chk_ip_hi_lane <= ip_hi_lane;
        chk_ip_hi_is <= lane_is_ip_hi;
        chk_ip_lo_lane <= ip_lo_lane;
        chk_ip_lo_is <= lane_is_ip_lo;

        if (s_axis_tlast) begin
            beat_ptr <= 0;
            beat_ptr_less32 <= BEAT_PTR_LESS32_START;
            hdr_beat <= 0;
            hdr_beat_is <= 1;
            past_end <= 1'b0;
        end
    end

    if (rst) begin
        beat_ptr <= 0;
        beat_ptr_less32 <= BEAT_PTR_LESS32_START;
        hdr_beat <= 0;
        hdr_beat_is <= 1;
        past_end <= 1'b0;
        csum_word_en <= {ip_header_words(18, FIRST_BEAT, 4'd0), ip_header_words(14, FIRST_BEAT, 4'd0)};
        chk_valid <= 1'b0;
    end
end

// ---- verdict stage: the beat's flags in priority order, then emit ----
// A header (nonzero: version 4) is correct when its sum is 0 mod 0xFFFF, and
// s + c lies in [0, 0x1FFFE]: 0, 0xFFFF (c = ~s) or 0x1FFFE (both all ones).
// The sums hold the verdict-stage beat's words: the check stage takes no
// other beat until this one moves on. Their bitwise tests are registered
// with them, so only three 16-bit ANDs are left here.
wire csum_ok = &csum_xor || &csum_and || &csum_nor;

// The UDP port and length: matched in an earlier beat, or in this one's lane.
wire chk_udp_port_match = port_seen || (chk_port_lane & chk_port_is) != 0;
wire chk_udp_len_match  = udp_len_seen || (chk_udp_len_lane & chk_udp_len_is) != 0;
wire chk_udp_length_bad = !chk_udp_len_match;
wire chk_ip_hi_match    = ip_hi_seen || (chk_ip_hi_lane & chk_ip_hi_is) != 0;
wire chk_ip_lo_match    = ip_lo_seen || (chk_ip_lo_lane & chk_ip_lo_is) != 0;
wire chk_ip_dest_match  = chk_ip_hi_match && chk_ip_lo_match;

reg [3:0] header_verdict;
always @* begin
    header_verdict = V_NONE;
    if (chk_not_ethertype_ipv4)
        header_verdict = V_NOT_IPV4;
    else if (chk_have_ip20 && !ihl_ok_reg)
        header_verdict = V_NOT_IPV4;
    else if (chk_have_ip && fragment_reg)
        header_verdict = V_FRAGMENT;
    else if (chk_have_ip && !csum_ok)
        header_verdict = V_CHECKSUM;
    else if (chk_have_ip && not_udp_reg)
        header_verdict = V_NOT_UDP;
    else if (chk_have_ip && short_reg)
        header_verdict = V_LENGTH;
    else if (chk_have_udp && chk_udp_length_bad)
        header_verdict = V_LENGTH;
    else if (chk_have_udp && !(cfg_enable && chk_ip_dest_match && chk_udp_port_match))
        header_verdict = V_FILTERED;
    else if (chk_have_udp)
        header_verdict = V_PASS;
end

// Whether the header is decided (any verdict) and whether it passes (every
// check): flat ORs and ANDs of the flags, made for both checksum results and
// chosen by csum_ok last, so the checksum's reduction and the flags' logic
// run side by side; the priority order only names the drop reason, and the
// output's enables do not wait on it.
wire known_if_bad = chk_have_ip || chk_not_ethertype_ipv4 || (chk_have_ip20 && !ihl_ok_reg) || chk_have_udp;
wire known_if_ok  = chk_not_ethertype_ipv4 || (chk_have_ip20 && !ihl_ok_reg)
                    || (chk_have_ip && (fragment_reg || not_udp_reg || short_reg)) || chk_have_udp;
wire pass_if_ok   = chk_have_udp && !chk_not_ethertype_ipv4 && ihl_ok_reg
                    && !fragment_reg && !not_udp_reg && !short_reg && !chk_udp_length_bad
                    && cfg_enable && chk_ip_dest_match && chk_udp_port_match;
wire header_known = csum_ok ? known_if_ok : known_if_bad;
wire header_pass  = csum_ok && pass_if_ok;
wire deciding_now = !decided && header_known;
wire passing_now  = decided ? passing : header_pass;
wire frame_bad    = chk_user || chk_truncated;
wire emit         = passing_now && !payload_done && chk_emits;

always @(posedge clk) begin
    stat_frame_in         <= 1'b0;
    stat_frame_passed     <= 1'b0;
    stat_drop_not_ipv4    <= 1'b0;
    stat_drop_fragment    <= 1'b0;
    stat_drop_checksum    <= 1'b0;
    stat_drop_not_udp     <= 1'b0;
    stat_drop_length      <= 1'b0;
    stat_drop_filtered    <= 1'b0;
    stat_drop_runt        <= 1'b0;
    stat_drop_frame_error <= 1'b0;
    stat_drop_truncated   <= 1'b0;

    if (m_axis_tvalid && m_axis_tready)
        out_valid <= 1'b0;

    // The beat's fields load whenever the output register is free, emitted
    // or not (tvalid says which): their enable waits on no verdict.
    if (out_free) begin
        m_axis_tdata <= chk_data;
        m_axis_tkeep <= chk_payload_keep;
        m_axis_tlast <= chk_ends_payload;
        m_axis_tuser <= chk_last && frame_bad;
    end

    if (chk_take) begin
        stat_frame_in <= chk_first;
        port_seen <= chk_udp_port_match && !chk_last;
        udp_len_seen <= chk_udp_len_match && !chk_last;
        ip_hi_seen <= chk_ip_hi_match && !chk_last;
        ip_lo_seen <= chk_ip_lo_match && !chk_last;

        if (deciding_now) begin
            decided <= 1'b1;
            passing <= header_pass;
            case (header_verdict)
                V_NOT_IPV4: stat_drop_not_ipv4 <= 1'b1;
                V_FRAGMENT: stat_drop_fragment <= 1'b1;
                V_CHECKSUM: stat_drop_checksum <= 1'b1;
                V_NOT_UDP:  stat_drop_not_udp  <= 1'b1;
                V_LENGTH:   stat_drop_length   <= 1'b1;
                V_FILTERED: stat_drop_filtered <= 1'b1;
                default: ;
            endcase
        end

        // A held beat means the payload is done: no emit until the frame ends.
        if (emit) begin
            out_valid <= 1'b1;
            out_hold <= chk_ends_payload && !chk_last;
            payload_done <= chk_ends_payload;
        end
        if (out_hold && chk_last) begin
            m_axis_tuser <= chk_user;
            out_hold <= 1'b0;
        end

        if (chk_last) begin
            if (passing_now) begin
                if (chk_user)
                    stat_drop_frame_error <= 1'b1;
                else if (chk_truncated)
                    stat_drop_truncated <= 1'b1;
                else
                    stat_frame_passed <= 1'b1;
            end else if (!decided && !header_known) begin
                if (chk_user)
                    stat_drop_frame_error <= 1'b1;
                else
                    stat_drop_runt <= 1'b1;
            end
            decided <= 1'b0;
            passing <= 1'b0;
            payload_done <= 1'b0;
        end
    end

    if (rst) begin
        decided <= 1'b0;
        passing <= 1'b0;
        payload_done <= 1'b0;
        out_valid <= 1'b0;
        out_hold <= 1'b0;
        port_seen <= 1'b0;
        udp_len_seen <= 1'b0;
        ip_hi_seen <= 1'b0;
        ip_lo_seen <= 1'b0;
        stat_frame_in <= 1'b0;
        stat_frame_passed <= 1'b0;
        stat_drop_not_ipv4 <= 1'b0;
        stat_drop_fragment <= 1'b0;
        stat_drop_checksum <= 1'b0;
        stat_drop_not_udp <= 1'b0;
        stat_drop_length <= 1'b0;
        stat_drop_filtered <= 1'b0;
        stat_drop_runt <= 1'b0;
        stat_drop_frame_error <= 1'b0;
        stat_drop_truncated <= 1'b0;
    end
end

endmodule
